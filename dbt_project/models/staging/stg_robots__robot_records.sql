-- one row per (robot_id, ts): the first copy by relative file path, then line
select
    robot_id as asset_id,
    fleet_id,
    ts,
    timezone('UTC', ts) as ts_utc,
    cast(timezone('UTC', ts) as date) as day,
    seq,
    mode,
    cast(operating_s as decimal(38, 6)) as operating_s,
    cast(cleaning_s as decimal(38, 6)) as cleaning_s,
    cast(area_cleaned_m2 as decimal(38, 6)) as area_cleaned_m2,
    coalesce(
        list_has_any(
            cast(json_extract_string(coalesce(errors_json, '[]'), '$[*].level') as varchar[]),
            ['CRITICAL', 'FATAL']),
        false) as has_blocking_error,
    source_file,
    line
from {{ source('raw', 'robot_records') }}
qualify row_number() over (partition by robot_id, ts order by source_file, line) = 1
