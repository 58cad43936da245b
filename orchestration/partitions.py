"""The one daily partitions definition, imported everywhere."""

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
