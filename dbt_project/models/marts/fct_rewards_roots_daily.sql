{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day'],
    on_schema_change='fail'
) }}
{#- Computed from inception to end_date upstream; written for the window's days only
    (the pre-hook clear_window_days removes them first), later days stay. -#}
select
    cast(day as date) as day,
    cast(root as varchar) as root,
    cast(total_cumulative_wei as decimal(38, 0)) as total_cumulative_wei,
    cast(accounts as integer) as accounts,
    cast(budget_wei as decimal(38, 0)) as budget_wei,
    cast(dust_wei as decimal(38, 0)) as dust_wei
from {{ ref('int_rewards_roots_computed') }}
where {{ window_days_filter('cast(day as date)') }}
