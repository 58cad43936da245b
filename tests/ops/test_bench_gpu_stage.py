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


def test_nodes_past_ten_thousand_sign_with_their_own_key(tmp_path):
    # node-1000 and node-10000 sort next to each other by name: each must still sign with
    # its own key, or a fleet of 80,000 GPUs and more is quarantined as mis-signed
    from dataclasses import replace

    from ingestion.lake.engine import run_gpu_telemetry

    full = bench_gpu.synth_registry(80_008)  # nodes node-0000 .. node-10000
    wanted = {"node-0999", "node-1000", "node-10000"}
    reg = replace(full, assets=tuple(a for a in full.assets if a.node_id in wanted))
    n = bench_gpu.synth_day(tmp_path / "landing", reg, interval_s=3600)
    assert n == 3 * 8 * 24
    run = run_gpu_telemetry(tmp_path / "landing", tmp_path / "lake", reg, {}, scheduler="")
    assert (run.stats.rows_loaded, run.stats.rows_quarantined) == (n, 0)
