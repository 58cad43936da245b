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

from ingestion.late_data import LateDataPlan, what_is_late
from orchestration.jobs import daily_nav_job
from orchestration.partitions import run_partitions
from orchestration.resources import WarehouseResource

__all__ = ["late_data_sensor", "run_request_for"]


def run_request_for(plan: LateDataPlan) -> dg.RunRequest:
    """One single-run backfill of `daily_nav` over plan.start..plan.end (a partition run
    when that is one day)."""
    partition_key, tags = run_partitions(plan.start, plan.end)
    return dg.RunRequest(run_key=plan.run_key, partition_key=partition_key,
                         tags={**tags, "aidnav/trigger": "late_data",
                               "aidnav/late_files": str(len(plan.files))})


@dg.sensor(job=daily_nav_job, minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Re-runs computed days when invoices or telemetry arrive late.")
def late_data_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    answer = what_is_late(settings.warehouse_path, settings.landing_dir)
    if answer.plan is None:
        return dg.SkipReason(answer.reason)
    if context.cursor == answer.plan.run_key:
        return dg.SkipReason(f"already requested ({answer.plan.run_key}); waiting for the run")
    context.update_cursor(answer.plan.run_key)
    context.log.info(answer.reason)
    return run_request_for(answer.plan)
