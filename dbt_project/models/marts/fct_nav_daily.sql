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
    cast(carrying_value_total as decimal(38, 18)) as carrying_value_total,
    cast(reserves_usd as decimal(38, 18)) as reserves_usd,
    cast(offchain_reserves_usd as decimal(38, 18)) as offchain_reserves_usd,
    cast(gross_assets as decimal(38, 18)) as gross_assets,
    cast(protocol_fee as decimal(38, 18)) as protocol_fee,
    cast(performance_fee as decimal(38, 18)) as performance_fee,
    cast(fees_payable as decimal(38, 18)) as fees_payable,
    cast(nav_usd as decimal(38, 18)) as nav_usd,
    cast(aid_supply as decimal(38, 18)) as aid_supply,
    cast(backing_ratio as decimal(38, 18)) as backing_ratio,
    cast(said_supply as decimal(38, 18)) as said_supply,
    cast(said_assets as decimal(38, 18)) as said_assets,
    cast(share_price as decimal(38, 18)) as share_price,
    cast(apy_7d as decimal(38, 18)) as apy_7d,
    cast(apy_30d as decimal(38, 18)) as apy_30d
from {{ ref('int_nav_computed') }}
where {{ window_days_filter('cast(day as date)') }}
