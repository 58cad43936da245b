select
    asset_id,
    deal_id,
    asset_type,
    model,
    cast(purchase_price_usd as decimal(38, 18)) as purchase_price_usd,
    acquired_date,
    useful_life_days,
    cast(residual_pct as decimal(38, 18)) as residual_pct,
    node_id,
    lower(node_address) as node_address,
    site
from {{ source('raw', 'assets') }}
