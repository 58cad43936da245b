-- stablecoin received by each deal's collection address in a day from any address that is
-- not itself a reserve address, in USDC units (1e-6 USD)
with usdc as (
    select address from {{ ref('stg_registry__addresses') }} where role = 'usdc'
)
select
    d.deal_id,
    t.day,
    sum(t.value_units) as receipts_units
from {{ ref('stg_chain__transfers') }} t
join {{ ref('stg_registry__deals') }} d on t.to_address = d.collection_address
where t.token_address in (select address from usdc)
  and t.from_address not in (select address from {{ ref('int_reserve_addresses') }})
  and t.day <= {{ window_end() }}
group by all
