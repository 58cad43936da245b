"""The dbt project as Dagster assets: every model is computed per daily partition.

All models take the window [start_date, end_date] from the partition (a single-run
backfill passes the whole range at once); carried figures are recomputed from inception,
so a window's rows do not depend on the window asked for.
"""


import os
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from aidnav.replay import dbt_window_env
from orchestration.partitions import daily_partitions
from orchestration.resources import dbt_project


def dbt_build_invocation(start: date, end: date) -> tuple[list[str], dict[str, str]]:
    """The dbt CLI arguments and environment for a window of days (inclusive).

    The window travels in the environment, not in `--vars`: dbt re-parses the whole
    project whenever `--vars` changes, which would cost every daily run seconds.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return ["build"], dbt_window_env(start, end)


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
    args, env = dbt_build_invocation(start, end)
    os.environ.update(env)  # the dbt subprocess inherits the environment
    context.log.info(f"dbt {' '.join(args)} for {start} .. {end}")
    yield from dbt.cli(args, context=context).stream()
