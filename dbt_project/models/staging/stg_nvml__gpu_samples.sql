-- one row per (gpu_uuid, ts): the first valid copy by relative file path, then line
select
    gpu_uuid as asset_id,
    node_id,
    ts,
    timezone('UTC', ts) as ts_utc,
    cast(timezone('UTC', ts) as date) as day,
    cast(gpu_util_pct as decimal(38, 6)) as gpu_util_pct,
    cast(energy_mj as decimal(38, 6)) as energy_mj,
    source_file,
    line
from {{ source('raw', 'gpu_samples') }}
qualify row_number() over (partition by gpu_uuid, ts order by source_file, line) = 1
