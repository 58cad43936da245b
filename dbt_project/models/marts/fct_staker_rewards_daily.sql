{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'account'],
    on_schema_change='fail'
) }}
{#- Computed from inception to end_date upstream; written for the window's days only
    (the pre-hook clear_window_days removes them first), later days stay. -#}
select
    cast(day as date) as day,
    cast(account as varchar) as account,
    cast(twab as decimal(38, 18)) as twab,
    cast(reward_wei as decimal(38, 0)) as reward_wei,
    cast(cumulative_wei as decimal(38, 0)) as cumulative_wei
from {{ ref('int_staker_rewards_computed') }}
where account is not null
  and {{ window_days_filter('cast(day as date)') }}
