"""The daily job and its schedule."""


from datetime import timedelta

import dagster as dg

from orchestration.partitions import daily_partitions

daily_nav_job = dg.define_asset_job(
    "daily_nav",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    # one process: DuckDB allows a single writer, and the steps run in dependency order
    executor_def=dg.in_process_executor,
    description="Ingest, model, check and publish one day (or a range, for backfills).",
)


@dg.schedule(job=daily_nav_job, cron_schedule="0 1 * * *", execution_timezone="UTC")
def daily_nav_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At 01:00 UTC, the day that has just ended."""
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=day)
