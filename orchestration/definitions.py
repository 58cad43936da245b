"""The Dagster code location: assets, checks, the daily job and its schedule."""

import dagster as dg

from orchestration.assets.dbt import aidnav_dbt_models
from orchestration.assets.exports import daily_html, marts_parquet
from orchestration.assets.ingestion import (
    raw_chain_events,
    raw_gpu_samples,
    raw_invoices,
    raw_robot_records,
    registry,
)
from orchestration.assets.publishing import daily_publication
from orchestration.checks import QUALITY_CHECKS
from orchestration.jobs import daily_nav_job, daily_nav_schedule
from orchestration.resources import RESOURCES
from orchestration.sensors import late_data_sensor

defs = dg.Definitions(
    assets=[
        registry, raw_invoices, raw_gpu_samples, raw_robot_records, raw_chain_events,
        aidnav_dbt_models, daily_publication, marts_parquet, daily_html,
    ],
    asset_checks=QUALITY_CHECKS,
    jobs=[daily_nav_job],
    schedules=[daily_nav_schedule],
    sensors=[late_data_sensor],
    resources=RESOURCES,
)
