{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'deal_id'],
    on_schema_change='fail'
) }}
{#- Computed from inception to end_date upstream; written for the window's days only
    (the pre-hook clear_window_days removes them first), later days stay. -#}
select
    cast(day as date) as day,
    cast(deal_id as varchar) as deal_id,
    cast(structure as varchar) as structure,
    cast(principal as decimal(38, 18)) as principal,
    cast(receivable as decimal(38, 18)) as receivable,
    cast(accrued_today as decimal(38, 18)) as accrued_today,
    cast(income as decimal(38, 18)) as income,
    cast(receipts as decimal(38, 18)) as receipts,
    cast(dpd as integer) as dpd,
    cast(collateral_value as decimal(38, 18)) as collateral_value,
    cast(exposure as decimal(38, 18)) as exposure,
    cast(collateral_ratio as decimal(38, 18)) as collateral_ratio,
    cast(ltv as decimal(38, 18)) as ltv,
    cast(covenant_breach as boolean) as covenant_breach,
    cast(loss_rate as decimal(38, 18)) as loss_rate,
    cast(allowance as decimal(38, 18)) as allowance,
    cast(carrying_value as decimal(38, 18)) as carrying_value,
    cast(net_income as decimal(38, 18)) as net_income
from {{ ref('int_deal_positions_computed') }}
where {{ window_days_filter('cast(day as date)') }}
