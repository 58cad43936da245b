select
    chain_id,
    role,
    lower(address) as address,
    label
from {{ source('raw', 'addresses') }}
