{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'asset_id'],
    on_schema_change='fail',
    pre_hook="{{ clear_window_days() }}"
) }}
{#- Valid GPU samples summed per asset and UTC day, written for the window's days only
    (same windowing as the marts): sample count, utilisation sum, the positive energy
    deltas between consecutive samples of the day (none above max_gpu_power_w over the
    time between them), and the day's first and last energy
    reading. fct_gpu_operation_daily adds the delta from the last reading of an earlier
    day to the first of D, so it never rescans the sample history. -#}
with samples as (
    -- the window's days (a first build: every day up to the window end, before inception
    -- too, so that the first delta of inception day has its base)
    select s.asset_id, s.ts_utc, s.day, s.gpu_util_pct, s.energy_mj
    from {{ ref('stg_nvml__gpu_samples') }} s
    where {{ window_ts_prefilter('s.ts') }}
      and {{ window_days_filter('s.day') }}
),
deltas as (
    select *,
        energy_mj - lag(energy_mj) over (partition by asset_id, day order by ts_utc) as delta_mj,
        epoch(ts_utc) - epoch(lag(ts_utc) over (partition by asset_id, day order by ts_utc))
            as elapsed_s
    from samples
),
counted as (
    -- a fall is a counter reset, and a rise faster than the plausible power allows (mJ/s =
    -- 1000 x W) is a counter that jumped: both count 0, so no delivery can make a day's
    -- energy more than a GPU at full power could use
    select *,
        case when delta_mj > {{ var('max_gpu_power_w') }} * 1000 * elapsed_s then 0
             else greatest(delta_mj, 0) end as counted_mj
    from deltas
)
select
    cast(day as date) as day,
    cast(asset_id as varchar) as asset_id,
    cast(count(*) as integer) as valid_samples,
    cast(sum(gpu_util_pct) as decimal(38, 6)) as util_sum,
    cast(coalesce(sum(counted_mj), 0) as decimal(38, 6)) as energy_in_day_mj,
    cast(arg_min(energy_mj, ts_utc) as decimal(38, 6)) as first_energy_mj,
    cast(arg_max(energy_mj, ts_utc) as decimal(38, 6)) as last_energy_mj
from counted
group by day, asset_id
