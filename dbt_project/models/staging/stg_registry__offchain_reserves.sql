select
    as_of,
    cast(amount_usd as decimal(38, 18)) as amount_usd,
    description
from {{ source('raw', 'offchain_reserves') }}
