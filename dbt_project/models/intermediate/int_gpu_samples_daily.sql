{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['day', 'asset_id'],
    on_schema_change='fail',
    pre_hook="{{ clear_window_days() }}"
) }}
{#- Valid GPU samples summed per asset and UTC day, written for the window's days only
    (same windowing as the marts): sample count, utilisation sum, the positive energy
    deltas between consecutive samples of the day (none faster than the power bound of
    ingestion/bounds.py allows), and the day's first and last energy reading. The telemetry lake's
    engine reduces each (node, day) partition to these figures as it writes it
    (ingestion/lake/engine.py, the same rule on the same deduplicated samples), so the
    sample history is never rescanned here. fct_gpu_operation_daily adds the delta from the
    last reading of an earlier day to the first of D. -#}
select
    cast(day as date) as day,
    cast(asset_id as varchar) as asset_id,
    cast(valid_samples as integer) as valid_samples,
    cast(util_sum as decimal(38, 6)) as util_sum,
    cast(energy_in_day_mj as decimal(38, 6)) as energy_in_day_mj,
    cast(first_energy_mj as decimal(38, 6)) as first_energy_mj,
    cast(last_energy_mj as decimal(38, 6)) as last_energy_mj
from {{ source('raw', 'gpu_daily') }}
where {{ window_days_filter('day') }}
