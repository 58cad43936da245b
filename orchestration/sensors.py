"""Late data: a delivery for a day that has already been computed re-runs the days it moves.

The landing package says which files the file ledger has not seen and the first day each
can change (`ingestion/late_data.py`); when that day is not after the latest computed
day, the sensor requests one single-run backfill of `daily_nav` from it to the latest
computed day: carried figures are computed from inception, so every later day follows.
The run key hashes the new files' paths and contents, so the same delivery never triggers
twice; a restated day that was already posted is recorded as a restatement by the
publisher, never posted again. Files for days not yet computed are left to the daily
schedule.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from ingestion.late_data import LateDataPlan, plan_late_data
from orchestration.jobs import daily_nav_job
from orchestration.resources import WarehouseResource

__all__ = ["late_data_sensor", "plan_late_data", "run_request_for"]


def run_request_for(plan: LateDataPlan) -> dg.RunRequest:
    """One single-run backfill of `daily_nav` over plan.start..plan.end."""
    tags = {
        "dagster/asset_partition_range_start": plan.start.isoformat(),
        "dagster/asset_partition_range_end": plan.end.isoformat(),
        "aidnav/trigger": "late_data",
        "aidnav/late_files": str(len(plan.files)),
    }
    if plan.start == plan.end:
        return dg.RunRequest(run_key=plan.run_key, partition_key=plan.start.isoformat(),
                             tags={k: v for k, v in tags.items() if "range" not in k})
    return dg.RunRequest(run_key=plan.run_key, tags=tags)


@dg.sensor(job=daily_nav_job, minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Re-runs computed days when invoices or telemetry arrive late.")
def late_data_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    if not settings.warehouse_path.exists():
        return dg.SkipReason("no warehouse yet")
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException as exc:  # a run holds the write lock: look again next tick
        return dg.SkipReason(f"warehouse busy: {exc}")
    try:
        plan = plan_late_data(settings.landing_dir, con)
    finally:
        con.close()
    if plan is None:
        return dg.SkipReason("no late delivery for a computed day")
    if context.cursor == plan.run_key:
        return dg.SkipReason(f"already requested ({plan.run_key}); waiting for the run")
    context.update_cursor(plan.run_key)
    context.log.info(f"{len(plan.files)} late file(s): re-running {plan.start} .. {plan.end}")
    return run_request_for(plan)
