-- addresses whose stablecoin is protocol reserves: roles treasury and collection, plus
-- every deal's collection address
select distinct address
from (
    select address from {{ ref('stg_registry__addresses') }} where role in ('treasury', 'collection')
    union all
    select collection_address from {{ ref('stg_registry__deals') }} where collection_address is not null
)
