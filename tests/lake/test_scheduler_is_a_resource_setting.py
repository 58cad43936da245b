"""The Dask scheduler is a setting of the run's warehouse resource (what the UI's launchpad
shows and a run's config may change): the GPU telemetry asset runs its tasks there, and
AIDNAV_DASK_SCHEDULER is only its default."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import dagster as dg

from tests.fixture_paths import WORKED_EXAMPLE_INPUT


def _unused_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_the_resources_scheduler_reaches_the_gpu_loader(tmp_path: Path, monkeypatch):
    from orchestration.assets.ingestion import raw_gpu_samples, registry
    from orchestration.resources import WarehouseResource

    monkeypatch.delenv("AIDNAV_WAREHOUSE", raising=False)
    monkeypatch.delenv("AIDNAV_DASK_SCHEDULER", raising=False)
    data = tmp_path / "data"
    shutil.copytree(WORKED_EXAMPLE_INPUT / "registry", data / "registry")
    shutil.copytree(WORKED_EXAMPLE_INPUT / "landing", data / "landing")
    address = _unused_address()
    with dg.DagsterInstance.ephemeral() as instance:
        on_cluster = dg.materialize(
            [registry, raw_gpu_samples], partition_key="2026-02-08", instance=instance,
            raise_on_error=False, resources={"warehouse": WarehouseResource(
                data_dir=str(data), dask_scheduler=address)})
        assert not on_cluster.success
        failures = [e for e in on_cluster.all_events if e.is_step_failure]
        assert any(address in (e.step_failure_data.error.message or "") for e in failures)
        # the same run with an empty setting runs in its own process, whatever the variable
        monkeypatch.setenv("AIDNAV_DASK_SCHEDULER", address)
        in_process = dg.materialize(
            [registry, raw_gpu_samples], partition_key="2026-02-08", instance=instance,
            resources={"warehouse": WarehouseResource(data_dir=str(data), dask_scheduler="")})
        assert in_process.success
