"""The one daily partitions definition, imported everywhere."""

from datetime import date, timedelta

import dagster as dg

from aidnav.config import DEFAULT_PARTITIONS_START, load_settings
from ingestion.registry import registry_inception


def partitions_start() -> str:
    """The first day the UI offers: AIDNAV_PARTITIONS_START when set, else the inception
    of the book in the data directory (so that no day before it shows as missing), else
    DEFAULT_PARTITIONS_START. Read once, when the code location loads: a registry written
    later (a first `aidnav demo`) is seen by the next `aidnav ui` or run."""
    settings = load_settings()
    if settings.partitions_start:
        return settings.partitions_start
    inception = registry_inception(settings.registry_dir)
    return inception.isoformat() if inception else DEFAULT_PARTITIONS_START


PARTITIONS_START = partitions_start()

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")

# the run tags by which Dagster names a run's partitions: one day, or a single-run range
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def days_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def run_partitions(start: date, end: date) -> tuple[str | None, dict[str, str]]:
    """How a run over the days start..end asks for them: one day is a partition run (its
    partition key, no tag), several days one single-run backfill (no key, the range tags).
    The command line's runs and the late-data sensor's requests both say it this way."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if start == end:
        return start.isoformat(), {}
    return None, {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}


def run_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[date]:
    """The days of the run a step belongs to: its partition, or every day of a single-run
    backfill's range. Every asset and check that works on the run's days asks here."""
    tags = context.run.tags
    if PARTITION_TAG in tags:
        return [date.fromisoformat(tags[PARTITION_TAG])]
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return days_between(date.fromisoformat(tags[RANGE_START_TAG]),
                            date.fromisoformat(tags[RANGE_END_TAG]))
    raise ValueError(f"run {context.run.run_id} names no day: neither {PARTITION_TAG} nor "
                     f"{RANGE_START_TAG}/{RANGE_END_TAG} is among its tags")
