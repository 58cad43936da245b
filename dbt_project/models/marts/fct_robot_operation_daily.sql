{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'asset_id'],
    on_schema_change='fail'
) }}
{#- Same windowing as fct_gpu_operation_daily: a fresh build covers inception .. window
    end, an incremental run rewrites the window; counter deltas look back to the last
    record before the first day. -#}
with params as (
    select inception_date from {{ ref('int_ledger_params') }}
),
bounds as (
    select
        {% if is_incremental() %}greatest({{ window_start() }}, p.inception_date){% else %}p.inception_date{% endif %} as first_day,
        {{ window_end() }} as last_day
    from params p
),
assets as (
    select a.asset_id, greatest(a.acquired_date, d.funded_date) as observed_from
    from {{ ref('stg_registry__assets') }} a
    join {{ ref('stg_registry__deals') }} d using (deal_id)
    where a.asset_type = 'robot'
),
asset_days as (
    select a.asset_id, cast(r.d as date) as day
    from assets a
    cross join bounds b
    cross join range(b.first_day, b.last_day + 1, interval 1 day) as r(d)
    where cast(r.d as date) >= a.observed_from
),
window_records as (
    select s.asset_id, s.ts_utc, s.day, s.operating_s, s.cleaning_s, s.area_cleaned_m2, s.has_blocking_error
    from {{ ref('stg_robots__robot_records') }} s, bounds b
    where s.ts_utc >= b.first_day and s.ts_utc < b.last_day + 1
),
previous_record as (
    select s.asset_id, max(s.ts_utc) as ts_utc,
        arg_max(s.operating_s, s.ts_utc) as operating_s,
        arg_max(s.cleaning_s, s.ts_utc) as cleaning_s,
        arg_max(s.area_cleaned_m2, s.ts_utc) as area_cleaned_m2
    from {{ ref('stg_robots__robot_records') }} s, bounds b
    where s.ts_utc < b.first_day
    group by s.asset_id
),
series as (
    select asset_id, ts_utc, day, operating_s, cleaning_s, area_cleaned_m2, has_blocking_error, true as in_window
    from window_records
    union all
    select asset_id, ts_utc, null, operating_s, cleaning_s, area_cleaned_m2, null, false from previous_record
),
deltas as (
    select *,
        greatest(operating_s - lag(operating_s) over w, 0) as d_operating_s,
        greatest(cleaning_s - lag(cleaning_s) over w, 0) as d_cleaning_s,
        greatest(area_cleaned_m2 - lag(area_cleaned_m2) over w, 0) as d_area_m2
    from series
    window w as (partition by asset_id order by ts_utc)
),
daily as (
    select
        asset_id,
        day,
        count(*) as records,
        coalesce(sum(d_operating_s), 0) as operating_s,
        coalesce(sum(d_cleaning_s), 0) as cleaning_s,
        coalesce(sum(d_area_m2), 0) as area_cleaned_m2,
        arg_max(has_blocking_error, ts_utc) as last_has_blocking_error
    from deltas
    where in_window
    group by asset_id, day
),
classified as (
    select
        ad.day,
        ad.asset_id,
        coalesce(x.records, 0) as records,
        coalesce(x.operating_s, 0) as operating_s,
        coalesce(x.cleaning_s, 0) as cleaning_s,
        coalesce(x.area_cleaned_m2, 0) as area_cleaned_m2,
        case
            when x.records is null then 'offline'
            when x.last_has_blocking_error then 'degraded'
            else 'operating'
        end as status
    from asset_days ad
    left join daily x on x.asset_id = ad.asset_id and x.day = ad.day
),
{{ offline_streak_ctes() }}
select
    cast(day as date) as day,
    cast(asset_id as varchar) as asset_id,
    cast(records as integer) as records,
    cast(exact_div_18(cast(operating_s * 1000000 as hugeint), cast(3600000000 as hugeint)) as decimal(38, 18)) as operating_hours,
    cast(exact_div_18(cast(cleaning_s * 1000000 as hugeint), cast(3600000000 as hugeint)) as decimal(38, 18)) as cleaning_hours,
    cast(area_cleaned_m2 as decimal(38, 18)) as area_cleaned_m2,
    cast(status as varchar) as status,
    cast(offline_streak_days as integer) as offline_streak_days
from streaks
