"""The dbt project as Dagster assets: every model is computed per daily partition.

All models take the window [start_date, end_date] from the partition (a single-run
backfill passes the whole range at once); carried figures are recomputed from inception,
so a window's rows do not depend on the window asked for.
"""


import functools
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from aidnav.config import dbt_environment, load_settings
from modelling.dbt import dbt_build_invocation, ensure_manifest
from orchestration.partitions import daily_partitions, run_days
from orchestration.resources import dbt_project


# dbt target folders of earlier runs kept beside the current one (each run writes about
# 4 MB: compiled SQL, manifest, run results); a year of daily runs would keep 1.5 GB
KEEP_DBT_TARGETS = 30


def prune_dbt_targets(current: Path, keep: int = KEEP_DBT_TARGETS) -> list[Path]:
    """Remove the target folders that earlier runs of this asset left beside `current`
    (named `<op>-<run>-<id>`), all but the `keep` newest; `current` is never removed.
    Returns the folders removed."""
    op = current.name.split("-", 1)[0]
    earlier = sorted((p for p in current.parent.glob(f"{op}-*")
                      if p.is_dir() and p != current),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    removed = earlier[keep:]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed


def keep_partial_parse(run_target: Path) -> bool:
    """Copy the run's `partial_parse.msgpack` to the project's target folder, where the
    next run starts from. dagster-dbt copies it from there into each run's own folder but
    never back, so the file stayed the one `dbt parse` wrote at install, with another
    warehouse path in its profile: every run parsed the whole project again ("Unable to do
    partial parsing because profile has changed", about 4 s). Returns whether it copied."""
    source = run_target / "partial_parse.msgpack"
    if not source.is_file():
        return False
    dest = run_target.parent / source.name
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
    return True


class AidnavDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return f"dbt_{fqn[1]}" if len(fqn) > 2 else "dbt"


@functools.cache
def dbt_models_asset() -> dg.AssetsDefinition:
    """The dbt models as one asset definition, built from the manifest, which is parsed
    again first when it is missing or older than the project (`modelling.dbt`). Built on
    first use (the definitions loaded for the UI or a run), never when a module is imported."""
    manifest = ensure_manifest(Path(dbt_project.project_dir), Path(dbt_project.profiles_dir))

    @dbt_assets(
        manifest=manifest,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=AidnavDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def aidnav_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        days = run_days(context)
        start, end = days[0], days[-1]
        args, window = dbt_build_invocation(start, end)
        # the dbt subprocess inherits the environment: the settings' warehouse (the very
        # file the Python side opens) and the window
        os.environ.update({**dbt_environment(load_settings()), **window})
        context.log.info(f"dbt {' '.join(args)} for {start} .. {end}")
        invocation = dbt.cli(args, context=context)
        yield from invocation.stream()
        keep_partial_parse(invocation.target_path)
        removed = prune_dbt_targets(invocation.target_path)
        if removed:
            context.log.info(f"removed {len(removed)} dbt target folder(s) of earlier runs, "
                             f"kept the newest {KEEP_DBT_TARGETS}")

    return aidnav_dbt_models


def __getattr__(name: str):
    # `from orchestration.assets.dbt import aidnav_dbt_models` builds it then
    if name == "aidnav_dbt_models":
        return dbt_models_asset()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
