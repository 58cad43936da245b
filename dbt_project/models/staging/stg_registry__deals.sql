select
    deal_id,
    provider_id,
    asset_class,
    structure,
    cast(principal_usd as decimal(38, 18)) as principal_usd,
    funded_date,
    maturity_date,
    cast(fixed_apr as decimal(38, 18)) as fixed_apr,
    cast(revenue_share_pct as decimal(38, 18)) as revenue_share_pct,
    cast(target_multiple as decimal(38, 18)) as target_multiple,
    cast(tail_share_pct as decimal(38, 18)) as tail_share_pct,
    payment_lag_days,
    cast(min_collateral_ratio as decimal(38, 18)) as min_collateral_ratio,
    lower(provider_address) as provider_address,
    lower(collection_address) as collection_address
from {{ source('raw', 'deals') }}
