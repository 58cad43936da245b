"""A real Dask cluster (`dask scheduler` and two single-threaded `dask worker` processes from
the project's environment) writes the same lake, byte for byte, and the same daily figures
as dask's in-process scheduler."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from demo.bench_gpu import synth_day
from ingestion.lake.engine import run_gpu_telemetry
from tests.lake.lake_fixtures import NOW, REGISTRY, lake_files, ledger_of, sample, write_batch

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """tcp://127.0.0.1:<port> of a scheduler with two workers of one thread each."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], cwd=REPO, start_new_session=True,
            stdout=open(logs / "scheduler.log", "wb"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1",
             "--no-dashboard", "--local-directory", str(logs)], cwd=REPO,
            start_new_session=True, stdout=open(logs / "workers.log", "wb"),
            stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise AssertionError(
                        f"the Dask cluster did not start; logs in {logs}") from None
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.mark.xdist_group("dask")
def test_cluster_and_in_process_runs_are_byte_identical(cluster, tmp_path):
    landing = tmp_path / "landing"
    synth_day(landing, REGISTRY)  # 16 GPUs, 2 nodes, 24 signed hourly batches each
    # a delivery of the next day that repeats a sample and carries one of another GPU's
    # node's key (quarantined: signed by the wrong node)
    write_batch(landing, "2026-03-02", 0, "extra", [
        sample("2026-03-01T00:00:00Z", 0, 1_000_000), sample("2026-03-02T00:00:00Z", 3, 2),
        sample("2026-03-02T00:00:00Z", 9, 5)])

    # each delivery folder and each partition a task of its own, so both workers get some
    cut = {"task_bytes": 1, "task_samples": 1}

    def both(seen_local, seen_cluster):
        local = run_gpu_telemetry(landing, tmp_path / "lake-local", REGISTRY, seen_local,
                                  now=NOW, scheduler="", **cut)
        remote = run_gpu_telemetry(landing, tmp_path / "lake-cluster", REGISTRY, seen_cluster,
                                   now=NOW, scheduler=cluster, **cut)
        return local, remote

    local, remote = both({}, {})
    assert local.stats.rows_loaded == 16 * 1440 + 2 and local.stats.rows_quarantined == 1
    for a, b in ((local, remote),):
        assert a.daily.equals(b.daily) and a.daily.num_rows == 16 + 1
        assert a.quarantine.equals(b.quarantine) and a.ledger.equals(b.ledger)
        assert a.partitions == b.partitions and a.fresh == b.fresh
    sha = {k: v[0] for k, v in lake_files(tmp_path / "lake-local").items()}
    assert sha and sha == {k: v[0] for k, v in lake_files(tmp_path / "lake-cluster").items()}

    # a late delivery, re-reduced on each side
    write_batch(landing, "2026-03-03", 1, "late", [sample("2026-03-01T00:00:30Z", 12, 1_000_000)])
    local2, remote2 = both(ledger_of(local), ledger_of(remote))
    assert local2.partitions == remote2.partitions == (("node-0001", date(2026, 3, 1)),)
    assert local2.daily.equals(remote2.daily)
    sha2 = {k: v[0] for k, v in lake_files(tmp_path / "lake-local").items()}
    assert sha2 == {k: v[0] for k, v in lake_files(tmp_path / "lake-cluster").items()}
    assert sha2 != sha
