select
    cast(day as date) as day,
    cast(asset_id as varchar) as asset_id,
    cast(deal_id as varchar) as deal_id,
    cast(book_value as decimal(38, 18)) as book_value,
    cast(market_index as decimal(38, 18)) as market_index,
    cast(health_factor as integer) as health_factor,
    cast(fair_value as decimal(38, 18)) as fair_value
from {{ ref('int_asset_valuations_computed') }}
