"""Dagster wiring of the aidnav pipeline: assets, checks, jobs, schedules and sensors."""

import warnings

# Every partitioned asset here takes a single-run backfill policy on purpose (a backfill is
# one run over the whole range); Dagster flags the parameter as beta at each definition,
# which would open every `aidnav run` with seven identical warnings.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`")
