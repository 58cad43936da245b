"""A real Dask cluster (`dask scheduler` and two single-threaded `dask worker` processes from
the project's environment) writes the same lake, byte for byte, and the same daily figures
as dask's in-process scheduler."""

from __future__ import annotations

from datetime import date

import pytest

from demo.bench_gpu import synth_day
from ingestion.lake.engine import run_gpu_telemetry
from tests.lake.lake_fixtures import NOW, REGISTRY, lake_files, ledger_of, sample, write_batch


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """tcp://127.0.0.1:<port> of a scheduler with two workers of one thread each, started
    as the benchmark starts them (`demo.bench.dask_cluster`) and stopped after."""
    from demo.bench import dask_cluster

    with dask_cluster(2, tmp_path_factory.mktemp("dask-logs")) as (address, _pids):
        yield address


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
