"""The daily job and its schedule."""


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


# At 01:00 UTC, the day that has just ended: the partition key and the run key come from
# the job's partitions (the last complete day), so the schedule and a backfill name a day
# the same way, and a tick asks for its day once.
daily_nav_schedule = dg.build_schedule_from_partitioned_job(
    daily_nav_job, name="daily_nav_schedule", hour_of_day=1, minute_of_hour=0,
    description="At 01:00 UTC, the day that has just ended.")
