{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'asset_id'],
    on_schema_change='fail'
) }}
{#- Computed from inception to end_date upstream; written for the window's days only
    (the pre-hook clear_window_days removes them first), later days stay. -#}
select
    cast(day as date) as day,
    cast(asset_id as varchar) as asset_id,
    cast(deal_id as varchar) as deal_id,
    cast(book_value as decimal(38, 18)) as book_value,
    cast(market_index as decimal(38, 18)) as market_index,
    cast(health_factor as integer) as health_factor,
    cast(fair_value as decimal(38, 18)) as fair_value
from {{ ref('int_asset_valuations_computed') }}
where {{ window_days_filter('cast(day as date)') }}
