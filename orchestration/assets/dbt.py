"""The dbt project as Dagster assets: every model is computed per daily partition.

All models take the window [start_date, end_date] from the partition (a single-run
backfill passes the whole range at once); carried figures are recomputed from inception,
so a window's rows do not depend on the window asked for.
"""


import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.partitions import daily_partitions
from orchestration.resources import dbt_project


def dbt_build_args(start: date, end: date) -> list[str]:
    """The dbt CLI arguments for a window of days (inclusive)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [
        "build",
        "--vars",
        json.dumps({"start_date": start.isoformat(), "end_date": end.isoformat()}),
    ]


def window_from_partition_range(start_key: str, end_key: str) -> tuple[date, date]:
    """Dagster time windows are half-open; dbt wants the inclusive days."""
    start = date.fromisoformat(start_key[:10])
    end = date.fromisoformat(end_key[:10])
    return start, end


class AidnavDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return f"dbt_{fqn[1]}" if len(fqn) > 2 else "dbt"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=AidnavDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
)
def aidnav_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    window = context.partition_time_window
    start = window.start.date()
    end = window.end.date() - timedelta(days=1)
    yield from dbt.cli(dbt_build_args(start, end), context=context).stream()
