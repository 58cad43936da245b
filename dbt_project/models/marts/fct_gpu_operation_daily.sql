{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'asset_id'],
    on_schema_change='fail'
) }}
{#- A fresh build covers inception .. window end; an incremental run rewrites the window
    only. Per-day sample sums come from int_gpu_samples_daily; the energy delta of the
    first sample of a day looks back to the last valid sample of an earlier day; the
    offline streak carries from this table's rows before the window. -#}
with params as (
    select inception_date, sample_interval_s, 86400 // sample_interval_s as expected_samples
    from {{ ref('int_ledger_params') }}
),
bounds as (
    select
        {% if is_incremental() %}greatest({{ window_start() }}, p.inception_date){% else %}p.inception_date{% endif %} as first_day,
        {{ window_end() }} as last_day,
        p.expected_samples
    from params p
),
assets as (
    select a.asset_id, a.node_id, greatest(a.acquired_date, d.funded_date) as observed_from
    from {{ ref('stg_registry__assets') }} a
    join {{ ref('stg_registry__deals') }} d using (deal_id)
    where a.asset_type = 'gpu'
),
asset_days as (
    select a.asset_id, a.node_id, cast(r.d as date) as day
    from assets a
    cross join bounds b
    cross join range(b.first_day, b.last_day + 1, interval 1 day) as r(d)
    where cast(r.d as date) >= a.observed_from
),
day_sums as (
    select * from {{ ref('int_gpu_samples_daily') }}, bounds b
    where day between b.first_day and b.last_day
),
previous_day as (
    -- the last day with valid samples before the window, per asset: its last reading is
    -- the base of the first delta of the window
    select s.asset_id, max(s.day) as day, arg_max(s.last_energy_mj, s.day) as last_energy_mj
    from {{ ref('int_gpu_samples_daily') }} s, bounds b
    where s.day < b.first_day
    group by s.asset_id
),
series as (
    select asset_id, day, valid_samples, util_sum, energy_in_day_mj, first_energy_mj,
        last_energy_mj, true as in_window
    from day_sums
    union all
    select asset_id, day, null, null, null, null, last_energy_mj, false from previous_day
),
daily as (
    -- positive deltas between consecutive valid samples: those inside the day, plus the
    -- first sample of the day against the last one before it
    select
        asset_id,
        day,
        valid_samples,
        util_sum,
        energy_in_day_mj + coalesce(greatest(
            first_energy_mj - lag(last_energy_mj) over (partition by asset_id order by day),
            0), 0) as energy_mj,
        in_window
    from series
),
measured as (
    select
        ad.day,
        ad.asset_id,
        ad.node_id,
        coalesce(x.valid_samples, 0) as valid_samples,
        b.expected_samples,
        x.util_sum,
        coalesce(x.energy_mj, 0) as energy_mj
    from asset_days ad
    cross join bounds b
    left join daily x on x.asset_id = ad.asset_id and x.day = ad.day and x.in_window
),
classified as (
    select *,
        case
            when valid_samples * 100 >= expected_samples * 90 then 'operating'
            when valid_samples * 100 >= expected_samples * 50 then 'degraded'
            else 'offline'
        end as status
    from measured
),
{{ offline_streak_ctes() }}
select
    cast(day as date) as day,
    cast(asset_id as varchar) as asset_id,
    cast(node_id as varchar) as node_id,
    cast(valid_samples as integer) as valid_samples,
    cast(exact_div_18(least(valid_samples, expected_samples), expected_samples) as decimal(38, 18)) as coverage,
    cast(exact_div_18(24 * least(valid_samples, expected_samples), expected_samples) as decimal(38, 18)) as uptime_hours,
    cast(case when valid_samples > 0
              then exact_div_18(cast(util_sum * 1000000 as hugeint), cast(valid_samples as hugeint) * 1000000)
         end as decimal(38, 18)) as avg_util_pct,
    cast(exact_div_18(cast(energy_mj * 1000000 as hugeint), cast(3600000000000000 as hugeint)) as decimal(38, 18)) as energy_kwh,
    cast(status as varchar) as status,
    cast(offline_streak_days as integer) as offline_streak_days
from streaks
