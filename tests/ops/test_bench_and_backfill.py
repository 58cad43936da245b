"""The benchmark on a small fleet (its JSON, its work folder, compressed batches, a baseline
that computes the job's per-GPU figures by another path), and a backfill that equals daily
runs."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import duckdb
import pytest

from aidnav.cli import main
from demo.bench import _step_windows, baseline_gpu_days
from modelling.replay import MART_EXPORTS, run_dbt
from tests.ops.conftest import INCEPTION, checkpoint

BACKFILL_DAYS = 5  # one-day dbt runs cost ~3 s each here; 5 keep the folder fast


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[dict, Path]:
    """`aidnav bench` on a small fleet with a work folder: its JSON line and the folder."""
    work = tmp_path_factory.mktemp("bench") / "work"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["bench", "--gpus", "40", "--robots", "5", "--days", "1",
                   "--work-dir", str(work), "--json"])
    lines = out.getvalue().strip().splitlines()
    # a failed bench says why on stderr, in one line: show it in the failure itself
    assert rc == 0, (err.getvalue()[-4000:], lines[-20:])
    return json.loads(lines[-1]), work


def test_bench_runs_the_daily_job_and_prints_one_json_object_last(bench):
    obj, work = bench
    assert set(obj) == {"gpus", "robots", "days", "end_day", "rows", "seconds",
                        "baseline_seconds", "ratio", "peak_rss_mb", "compression",
                        "landing_bytes", "bytes_per_sample", "telemetry",
                        "telemetry_in_daily_job", "job_dask_workers", "work_dir"}
    assert set(obj["seconds"]) == {"ingest", "dbt", "checks", "publish", "total"}
    # the bench's one day, 2026-03-01, is the last day it computes
    assert obj["days"] == 1 and obj["end_day"] == "2026-03-01"
    # one sample a minute for every GPU that reported all day
    assert obj["rows"] >= 1440 * obj["gpus"] * 0.9
    # the stages are parts of the job's wall time, which also holds its start-up
    stages = sum(obj["seconds"][k] for k in ("ingest", "dbt", "checks", "publish"))
    assert all(obj["seconds"][k] > 0 for k in ("ingest", "dbt", "checks", "publish"))
    assert stages < obj["seconds"]["total"]
    # (the printed seconds are rounded to the millisecond)
    assert abs(obj["ratio"] - obj["seconds"]["total"] / obj["baseline_seconds"]) < 0.01 * obj["ratio"]
    assert obj["peak_rss_mb"] > 0
    # no cluster asked for: the job ran its telemetry in process, nothing else was timed
    assert obj["job_dask_workers"] == 0 and obj["telemetry"] == []
    # the job really ran: every suite was a step of the checks stage, and the day was posted
    _, _, steps = _step_windows(work / "dagster")
    assert steps["raw__gpu_samples"] == "ingest" and steps["aidnav_dbt_models"] == "dbt"
    assert steps["onchain__daily_publication"] == "publish"
    from quality.suites import SUITES

    assert sum(1 for k, v in steps.items() if "_suite_" in k and v == "checks") == len(SUITES)
    with duckdb.connect(str(work / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.publications "
                           "where day = date '2026-03-01'").fetchone()[0] >= 1


def test_bench_keeps_the_fleet_landing_zone_and_warehouse_in_its_work_dir(bench):
    obj, work = bench
    assert obj["work_dir"] == str(work.resolve())
    data = work / "data"
    assert (data / "registry" / "assets.csv").is_file()
    assert sorted(p.name for p in (data / "landing").iterdir()) == [
        "gpu_telemetry", "invoices", "robot_telemetry"]
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        gpus = con.execute("select count(*) from raw.assets where asset_type = 'gpu'").fetchone()
    assert gpus[0] == obj["gpus"]


def test_bench_delivers_zstd_batches_as_the_agent_does_and_the_job_reads_them(bench):
    obj, work = bench
    landing = work / "data" / "landing"
    batches = sorted(p.relative_to(landing).as_posix()
                     for p in (landing / "gpu_telemetry").glob("*/*/*") if ".sig" not in p.name)
    assert batches and all(b.endswith(".jsonl.zst") for b in batches)
    assert obj["compression"] == "zstd"
    assert obj["landing_bytes"] == sum((landing / b).stat().st_size for b in batches)
    with duckdb.connect(str(work / "data" / "warehouse.duckdb"), read_only=True) as con:
        read = dict(con.execute("select file, rows_loaded from raw.ingested_files "
                                "where source = 'gpu_telemetry'").fetchall())
    assert sorted(read) == batches and all(n > 0 for n in read.values())


def test_the_baseline_computes_the_jobs_per_gpu_figures_by_another_path(bench):
    obj, work = bench
    day = date(2026, 3, 1)
    base = baseline_gpu_days(work / "data", day, day)
    with duckdb.connect(str(work / "data" / "warehouse.duckdb"), read_only=True) as con:
        mart = con.execute("""
            select asset_id, valid_samples, avg_util_pct, energy_kwh
            from marts.fct_gpu_operation_daily where day = ? and valid_samples > 0
            order by asset_id""", [day]).fetchall()
    eighteen = Decimal("1e-18")
    with localcontext() as ctx:
        ctx.prec = 80
        # the mart's figures: util sum / samples, and mJ / 3.6e9, to 18 places half-even
        mine = [(a, n, (u / n).quantize(eighteen, ROUND_HALF_EVEN),
                 (e / Decimal(3_600_000_000)).quantize(eighteen, ROUND_HALF_EVEN))
                for d, a, n, u, e in base.rows if d == day]
    assert len(mart) == obj["gpus"] and mine == mart
    assert base.samples == obj["rows"]


def test_bench_refuses_a_work_dir_that_holds_something(tmp_path, capsys):
    (tmp_path / "earlier.txt").write_text("x")
    rc = main(["bench", "--gpus", "8", "--work-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and str(tmp_path) in err[0] and "not empty" in err[0]
    assert [p.name for p in tmp_path.iterdir()] == ["earlier.txt"]


def dump(warehouse: Path, last_day) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse))
    try:
        return {m: con.execute(f"select * from marts.{m} where day <= ? order by all",
                               [last_day]).fetchall() for m in MART_EXPORTS}
    finally:
        con.close()


def test_single_run_backfill_equals_one_day_runs(example_loaded, tmp_path):
    days = [INCEPTION + timedelta(days=10 + i) for i in range(BACKFILL_DAYS)]
    # A: one run over the whole range (what a single-run backfill does)
    a = tmp_path / "a" / "warehouse.duckdb"
    a.parent.mkdir()
    shutil.copy(example_loaded, a)
    run_dbt(a, days[0], days[-1], a.parent)
    checkpoint(a)
    # B: the schedule's way: every day on its own, in order
    b = tmp_path / "b" / "warehouse.duckdb"
    b.parent.mkdir()
    shutil.copy(example_loaded, b)
    for day in days:
        run_dbt(b, day, day, b.parent)
    checkpoint(b)
    rows_a, rows_b = dump(a, days[-1]), dump(b, days[-1])
    for mart in MART_EXPORTS:
        assert rows_a[mart], f"{mart}: no rows"
        assert len(rows_a[mart]) == len(rows_b[mart]), mart
        for ra, rb in zip(rows_a[mart], rows_b[mart]):
            assert ra == rb, f"{mart}: {ra} != {rb}"
    nav_days = {r[0] for r in rows_a["fct_nav_daily"]}
    assert set(days) <= nav_days
