"""Runs launched by the command line as the UI launches them: each run carries the code
location's origin (the location and repository of workspace.yaml), so that the UI lists
it under its job, on the Overview timeline and among the location's runs.

The run is still executed in this process, step after step (DuckDB takes one writer),
with the job's in-process executor and in-memory values between steps, as
`execute_in_process` does; only the run record differs: it names where the job lives.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import create_execution_plan, execute_run
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.execution.execute_in_process import merge_run_tags
from dagster._core.execution.job_execution_result import JobExecutionResult
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.tags import BACKFILL_ID_TAG, REPOSITORY_LABEL_TAG
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load_target import WorkspaceFileTarget

from aidnav.config import REPO_ROOT

WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"
# a code location built from one Definitions object holds one repository of this name
REPOSITORY_NAME = "__repository__"
# the attribute of the location's module that holds the Definitions object
DEFINITIONS_ATTRIBUTE = "defs"

__all__ = ["REPOSITORY_LABEL_TAG", "execute_from_location", "location_job_origin",
           "repository_label"]


def location_job_origin(job_name: str) -> RemoteJobOrigin:
    """The job's origin as the UI knows it: workspace.yaml's one code location, read
    without loading its code."""
    [location] = WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)]).create_origins()
    return RemoteRepositoryOrigin(location, REPOSITORY_NAME).get_job_origin(job_name)


def repository_label(job_name: str = "daily_nav") -> str:
    """The value of the run tag by which the UI lists a location's runs."""
    return location_job_origin(job_name).repository_origin.get_label()


def _code_origin(origin: RemoteJobOrigin):
    target = origin.repository_origin.code_location_origin.loadable_target_origin
    repository = ReconstructableRepository.for_module(
        target.module_name, target.attribute or DEFINITIONS_ATTRIBUTE,
        str(WORKSPACE_FILE.parent / (target.working_directory or ".")))
    return repository.get_reconstructable_job(origin.job_name).get_python_origin()


def execute_from_location(job: dg.JobDefinition, instance: dg.DagsterInstance, *,
                          run_id: str, run_config: Mapping[str, object],
                          partition_key: str | None = None,
                          tags: Mapping[str, str] | None = None,
                          backfill_partitions: Sequence[str] | None = None,
                          ) -> JobExecutionResult:
    """Execute `job` in this process as a run of the workspace's code location.

    With `backfill_partitions` (a range run), the run is also recorded as a finished
    backfill of those partitions, its one run tagged with it, so that the UI lists it
    under Backfills. The record is written once the run has ended: a daemon never sees
    it unfinished, so it never launches runs of its own for it."""
    started = time.time()
    backfill_id = make_new_backfill_id() if backfill_partitions else None
    if backfill_id:
        tags = {**(tags or {}), BACKFILL_ID_TAG: backfill_id}
    ephemeral = job.as_ephemeral_job(resource_defs={}, input_values={})
    wrapped = InMemoryJob(ephemeral)
    # the partition tags (and the check that the partition exists) of execute_in_process
    run_tags = merge_run_tags(job_def=ephemeral, partition_key=partition_key, tags=tags,
                              asset_selection=None, instance=instance, run_config=run_config)
    plan = create_execution_plan(
        wrapped, run_config=run_config,
        instance_ref=instance.get_ref() if instance.is_persistent else None)
    origin = location_job_origin(job.name)
    run = instance.create_run_for_job(
        job_def=ephemeral, execution_plan=plan, run_id=run_id, run_config=run_config,
        tags=run_tags, remote_job_origin=origin, job_code_origin=_code_origin(origin))
    result = execute_run(wrapped, run, instance, raise_on_error=False)
    if backfill_id:
        _record_backfill(instance, job, backfill_id, list(backfill_partitions or ()), started,
                         result)
    return result


def _record_backfill(instance: dg.DagsterInstance, job: dg.JobDefinition, backfill_id: str,
                     partitions: list[str], started: float, result: JobExecutionResult) -> None:
    """The finished backfill of `partitions` that the one range run `result` carried out:
    what it materialised, and the rest as failed."""
    asset_graph = job.asset_layer.asset_graph
    keys = sorted(asset_graph.materializable_asset_keys)
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=asset_graph, partition_names=partitions,
        asset_selection=keys, backfill_timestamp=started, tags={},
        dynamic_partitions_store=instance, all_partitions=False,
        title=f"{job.name} {partitions[0]} .. {partitions[-1]}",
        description="one run over the range, from the command line", run_config=None)
    data = backfill.asset_backfill_data
    done = {AssetKeyPartitionKey(event.asset_key, event.partition)
            for event in result.get_asset_materialization_events() if event.partition}
    materialized = AssetGraphSubset.from_asset_partition_set(done, asset_graph)
    data = data._replace(
        requested_runs_for_target_roots=True, requested_subset=data.target_subset,
        materialized_subset=materialized & data.target_subset,
        failed_and_downstream_subset=(AssetGraphSubset.create_empty_subset() if result.success
                                      else data.target_subset - materialized))
    instance.add_backfill(backfill._replace(
        asset_backfill_data=data, backfill_end_timestamp=time.time(),
        status=(BulkActionStatus.COMPLETED_SUCCESS if result.success
                else BulkActionStatus.COMPLETED_FAILED)))
