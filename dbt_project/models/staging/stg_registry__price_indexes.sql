select
    model,
    as_of,
    cast(market_index as decimal(38, 18)) as market_index
from {{ source('raw', 'price_index') }}
