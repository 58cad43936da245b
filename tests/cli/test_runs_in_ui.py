"""A run started by `aidnav run` is one the UI lists: asked through the UI's own GraphQL
queries over workspace.yaml's code location, the `daily_nav` job's Runs tab (runs of the
job tagged with the location's repository) and the Overview timeline (runs grouped by
their repository origin) both hold it, with its days as tags; Backfills lists the range
as a finished backfill of its days, with the run.

The run fails on its chain step (no node answers), which the UI lists like any other."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from onchain.testing import free_port

AIDNAV = str(Path(sys.executable).parent / "aidnav")
REPO = Path(__file__).resolve().parents[2]
END_DAY = date(2026, 11, 20)
DAYS = 2
# workspace.yaml loads the module orchestration.definitions: Dagster names the location
# after the module and the one repository of a Definitions object "__repository__"
LOCATION = "orchestration.definitions"
REPOSITORY_LABEL = f"__repository__@{LOCATION}"

JOB_RUNS_QUERY = """
query JobRuns($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId
        pipelineName
        tags { key value }
        repositoryOrigin { repositoryName repositoryLocationName }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def ran_range(tmp_path_factory: pytest.TempPathFactory):
    from demo import generate_offchain

    data = tmp_path_factory.mktemp("ui") / "data"
    generate_offchain(data, END_DAY, days=DAYS, progress=False, scale=0.05)
    env = {**os.environ, "AIDNAV_DATA_DIR": str(data),
           "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE"):  # both follow the data directory
        env.pop(name, None)
    first = END_DAY - timedelta(days=DAYS - 1)
    done = subprocess.run([AIDNAV, "run", "--start", first.isoformat(),
                           "--end", END_DAY.isoformat()],
                          env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]  # no chain there
    return data / "dagster", first


BACKFILLS_QUERY = """
query Backfills {
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills {
      results {
        id status isAssetBackfill numPartitions
        runs { runId }
        assetBackfillData {
          rootTargetedPartitions { ranges { start end } partitionKeys }
          assetBackfillStatuses {
            ... on AssetPartitionsStatusCounts {
              assetKey { path } numPartitionsTargeted numPartitionsMaterialized
            }
          }
        }
      }
    }
  }
}
"""


def _ui(dagster_home: Path, query: str, variables: dict | None = None) -> dict:
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home)))
    cwd = os.getcwd()
    os.chdir(REPO)  # the location's working directory is workspace.yaml's "."
    try:
        with define_out_of_process_context(str(REPO / "workspace.yaml"), None,
                                           instance) as context:
            result = execute_dagster_graphql(context, query, variables)
    finally:
        os.chdir(cwd)
        instance.dispose()
    assert not result.errors, result.errors
    return result.data


def _ui_runs(dagster_home: Path, run_filter: dict) -> list[dict]:
    runs = _ui(dagster_home, JOB_RUNS_QUERY, {"filter": run_filter})["runsOrError"]
    assert runs["__typename"] == "Runs", runs
    return runs["results"]


def test_the_job_runs_tab_lists_the_cli_run_with_its_days(ran_range):
    dagster_home, first = ran_range
    # the filter the job's Runs tab sends: the job, and the location's repository tag
    runs = _ui_runs(dagster_home, {"pipelineName": "daily_nav", "tags": [
        {"key": ".dagster/repository", "value": REPOSITORY_LABEL}]})
    assert len(runs) == 1
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert tags["dagster/asset_partition_range_start"] == first.isoformat()
    assert tags["dagster/asset_partition_range_end"] == END_DAY.isoformat()


def test_the_timeline_places_the_cli_run_in_its_location(ran_range):
    dagster_home, _ = ran_range
    # the Overview timeline asks for every run and files each under its repository origin
    runs = _ui_runs(dagster_home, {})
    assert [r["repositoryOrigin"] for r in runs] == [
        {"repositoryName": "__repository__", "repositoryLocationName": LOCATION}]
    assert runs[0]["pipelineName"] == "daily_nav"


def test_backfills_list_the_range(ran_range):
    dagster_home, first = ran_range
    backfills = _ui(dagster_home, BACKFILLS_QUERY)["partitionBackfillsOrError"]
    assert backfills["__typename"] == "PartitionBackfills", backfills
    [backfill] = backfills["results"]
    [run] = _ui_runs(dagster_home, {})
    assert backfill["isAssetBackfill"] and backfill["numPartitions"] == DAYS
    assert backfill["status"] == "COMPLETED_FAILED"  # its run failed on the chain step
    assert [r["runId"] for r in backfill["runs"]] == [run["runId"]]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["dagster/backfill"] == backfill["id"]
    data = backfill["assetBackfillData"]
    targeted = data["rootTargetedPartitions"]
    assert (targeted["ranges"] == [{"start": first.isoformat(), "end": END_DAY.isoformat()}]
            or targeted["partitionKeys"] == [first.isoformat(), END_DAY.isoformat()])
    counts = {"/".join(a["assetKey"]["path"]): a for a in data["assetBackfillStatuses"]}
    # the registry was loaded for both days before the chain step failed; nothing was posted
    assert counts["raw/deals"]["numPartitionsMaterialized"] == DAYS
    assert counts["onchain/daily_publication"]["numPartitionsMaterialized"] == 0
