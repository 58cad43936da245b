"""The one daily partitions definition, imported everywhere."""

import os

import dagster as dg

# The first day the UI offers; any book that starts later simply has empty early days.
PARTITIONS_START = os.getenv("AIDNAV_PARTITIONS_START", "2025-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
