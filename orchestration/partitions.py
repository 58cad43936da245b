"""The one daily partitions definition, imported everywhere."""

import os

import dagster as dg

from aidnav.config import load_settings
from ingestion.registry import registry_inception

# the first day when no registry says otherwise
DEFAULT_PARTITIONS_START = "2025-01-01"


def partitions_start() -> str:
    """The first day the UI offers: AIDNAV_PARTITIONS_START when set, else the inception
    of the book in the data directory (so that no day before it shows as missing), else
    DEFAULT_PARTITIONS_START. Read once, when the code location loads: a registry written
    later (a first `aidnav demo`) is seen by the next `aidnav ui` or run."""
    explicit = os.getenv("AIDNAV_PARTITIONS_START")
    if explicit:
        return explicit
    inception = registry_inception(load_settings().registry_dir)
    return inception.isoformat() if inception else DEFAULT_PARTITIONS_START


PARTITIONS_START = partitions_start()

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
