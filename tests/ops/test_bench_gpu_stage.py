"""`python -m demo.bench_gpu`: the telemetry stage timed alone, in one process and on a
real Dask cluster (a `dask scheduler` and a `dask worker` process)."""

from __future__ import annotations

import json

from demo import bench_gpu


def test_the_stage_is_timed_in_process_and_on_a_cluster_over_the_same_batches(tmp_path, capsys):
    landing = tmp_path / "landing"
    bench_gpu.main(["--gpus", "16", "--landing", str(landing), "--dask-workers", "1",
                    "--json"])
    bench_gpu.main(["--gpus", "16", "--landing", str(landing), "--json"])
    out = capsys.readouterr().out
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["workers"] for r in runs] == [1, 0]
    for r in runs:
        # 16 GPUs x 1,440 minutes, in two nodes of 8 GPUs, one day: two partitions
        assert (r["samples"], r["quarantined"], r["partitions"]) == (23_040, 0, 2)
        assert r["seconds"] > 0 and r["peak_rss_mb"] > 0 and r["lake_bytes"] > 0
    # the same batches give the same lake, in one process or on the cluster
    assert runs[0]["lake_bytes"] == runs[1]["lake_bytes"]
    assert runs[0]["workers_peak_rss_mb"] > 0 and runs[1]["workers_peak_rss_mb"] is None
    assert "reusing" in out  # the second run read the batches the first synthesised
