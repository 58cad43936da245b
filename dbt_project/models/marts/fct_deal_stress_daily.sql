{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'deal_id', 'shock_pct'],
    on_schema_change='fail'
) }}
{#- Computed from inception to end_date upstream; written for the window's days only
    (the pre-hook clear_window_days removes them first), later days stay. -#}
select
    cast(day as date) as day,
    cast(deal_id as varchar) as deal_id,
    cast(shock_pct as decimal(38, 18)) as shock_pct,
    cast(collateral_value as decimal(38, 18)) as collateral_value,
    cast(stressed_collateral_value as decimal(38, 18)) as stressed_collateral_value,
    cast(exposure as decimal(38, 18)) as exposure,
    cast(collateral_ratio as decimal(38, 18)) as collateral_ratio,
    cast(stressed_collateral_ratio as decimal(38, 18)) as stressed_collateral_ratio,
    cast(min_collateral_ratio as decimal(38, 18)) as min_collateral_ratio,
    cast(stressed_covenant_breach as boolean) as stressed_covenant_breach,
    cast(break_even_haircut as decimal(38, 18)) as break_even_haircut,
    cast(allowance as decimal(38, 18)) as allowance,
    cast(stressed_allowance as decimal(38, 18)) as stressed_allowance,
    cast(book_nav_usd as decimal(38, 18)) as book_nav_usd,
    cast(book_stressed_nav_usd as decimal(38, 18)) as book_stressed_nav_usd,
    cast(book_stressed_backing_ratio as decimal(38, 18)) as book_stressed_backing_ratio
from {{ ref('int_deal_stress_computed') }}
where {{ window_days_filter('cast(day as date)') }}
