"""The Dagster code location: assets, checks, the daily job and its schedule.

`defs` is built on first use, not when this module is imported: building it makes sure of
the dbt manifest (`modelling.dbt.ensure_manifest`, a `dbt parse` only where the manifest
is missing or older than the project). `dagster dev` and a run load it by name (`defs`),
so the UI shows every asset, the dbt models included.
"""

import functools

import dagster as dg

from orchestration.assets.dbt import dbt_models_asset
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


@functools.cache
def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            registry, raw_invoices, raw_gpu_samples, raw_robot_records, raw_chain_events,
            dbt_models_asset(), daily_publication, marts_parquet, daily_html,
        ],
        asset_checks=QUALITY_CHECKS,
        jobs=[daily_nav_job],
        schedules=[daily_nav_schedule],
        sensors=[late_data_sensor],
        resources=RESOURCES,
    )


def __getattr__(name: str):
    # `from orchestration.definitions import defs`, and Dagster's loader, build it here
    if name == "defs":
        return build_definitions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster finds the code location's Definitions among the module's members
    return sorted({*globals(), "defs"})
