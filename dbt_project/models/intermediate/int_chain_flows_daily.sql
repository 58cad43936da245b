-- the day's net change of every on-chain balance the NAV needs, in integer token units:
-- reserves (USDC of reserve addresses), fees paid (USDC from reserves to the fee
-- recipient), AID supply (mints - burns), sAID supply, and AID held by the sAID vault
with roles as (
    select role, address from {{ ref('stg_registry__addresses') }}
),
reserve as (select address from {{ ref('int_reserve_addresses') }}),
t as (
    select *,
        token_address in (select address from roles where role = 'usdc') as is_usdc,
        token_address in (select address from roles where role = 'aid') as is_aid,
        token_address in (select address from roles where role = 'said') as is_said
    from {{ ref('stg_chain__transfers') }}
    where day <= {{ window_end() }}
),
zero as (select '0x0000000000000000000000000000000000000000' as address)
select
    day,
    sum(case when is_usdc and to_address in (select address from reserve) then value_units else 0 end)
      - sum(case when is_usdc and from_address in (select address from reserve) then value_units else 0 end)
      as reserves_delta_units,
    sum(case when is_usdc and from_address in (select address from reserve)
              and to_address in (select address from roles where role = 'fee_recipient')
             then value_units else 0 end) as fees_paid_units,
    sum(case when is_aid and from_address = (select address from zero) then value_units else 0 end)
      - sum(case when is_aid and to_address = (select address from zero) then value_units else 0 end)
      as aid_supply_delta_wei,
    sum(case when is_said and from_address = (select address from zero) then value_units else 0 end)
      - sum(case when is_said and to_address = (select address from zero) then value_units else 0 end)
      as said_supply_delta_wei,
    sum(case when is_aid and to_address in (select address from roles where role = 'said') then value_units else 0 end)
      - sum(case when is_aid and from_address in (select address from roles where role = 'said') then value_units else 0 end)
      as said_assets_delta_wei
from t
group by day
