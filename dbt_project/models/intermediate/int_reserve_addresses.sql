-- addresses whose stablecoin is protocol reserves: the registry's treasury and collection
-- rows (the registry refuses a deal whose collection address is not listed as one)
select distinct address
from {{ ref('stg_registry__addresses') }}
where role in ('treasury', 'collection')
