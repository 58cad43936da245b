{#
  The `last_online_before` and `streaks` CTEs shared by the GPU and robot operation marts
  (METHODOLOGY.md section 1, "Both"): consecutive offline days ending at D, counted from
  the last non-offline day, the day before the asset is observed, or, on an incremental
  run, the last non-offline day already in the mart before the window.
  Expects CTEs `bounds` (first_day), `classified` (asset_id, day, status, ...) and
  `assets` (asset_id, observed_from) before it.
#}
{% macro offline_streak_ctes() %}
last_online_before as (
    {% if is_incremental() %}
    select asset_id, max(day) as day from {{ this }}
    where status <> 'offline' and day < (select first_day from bounds)
    group by asset_id
    {% else %}
    select null::varchar as asset_id, null::date as day where false
    {% endif %}
),
streaks as (
    select c.*,
        case when c.status = 'offline' then
            date_diff('day',
                greatest(
                    coalesce(max(case when c.status <> 'offline' then c.day end)
                             over (partition by c.asset_id order by c.day rows between unbounded preceding and current row),
                             a.observed_from - 1),
                    coalesce(lo.day, a.observed_from - 1)),
                c.day)
        else 0 end as offline_streak_days
    from classified c
    join assets a using (asset_id)
    left join last_online_before lo using (asset_id)
)
{% endmacro %}
