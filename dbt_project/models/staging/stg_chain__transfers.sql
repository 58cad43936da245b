-- ERC-20 Transfer events of every token, amounts in integer token units
select
    chain_id,
    block_number,
    log_index,
    block_timestamp,
    timezone('UTC', block_timestamp) as block_ts_utc,
    cast(timezone('UTC', block_timestamp) as date) as day,
    tx_hash,
    lower(address) as token_address,
    lower(arg_from) as from_address,
    lower(arg_to) as to_address,
    cast(arg_value as decimal(38, 0)) as value_units
from {{ source('raw', 'chain_events') }}
where event = 'Transfer'
