"""The benchmark's JSON contract on a small fleet, and a backfill that equals daily runs."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb

from demo.bench import run_bench
from modelling.replay import MART_EXPORTS, run_dbt
from tests.ops.conftest import INCEPTION, checkpoint

BACKFILL_DAYS = 5  # one-day dbt runs cost ~3 s each here; 5 keep the folder fast


def test_bench_runs_the_daily_job_and_prints_one_json_object_last(capsys, tmp_path):
    result = run_bench(gpus=40, robots=5, days=1, json_out=True, work_dir=tmp_path)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    obj = json.loads(last)
    assert set(obj) == {"gpus", "robots", "days", "rows", "seconds", "baseline_seconds",
                        "ratio", "peak_rss_mb"}
    assert set(obj["seconds"]) == {"ingest", "dbt", "checks", "publish", "total"}
    # one sample a minute for every GPU that reported all day
    assert obj["rows"] >= 1440 * obj["gpus"] * 0.9 and obj["days"] == 1
    # the stages are parts of the job's wall time, which also holds its start-up
    stages = sum(obj["seconds"][k] for k in ("ingest", "dbt", "checks", "publish"))
    assert all(obj["seconds"][k] > 0 for k in ("ingest", "dbt", "checks", "publish"))
    assert stages < obj["seconds"]["total"]
    # (the printed seconds are rounded to the millisecond)
    assert abs(obj["ratio"] - obj["seconds"]["total"] / obj["baseline_seconds"]) < 0.01 * obj["ratio"]
    assert obj["peak_rss_mb"] > 0
    details = result["details"]
    # the baseline computes every day the job computed, over the same samples
    assert details["baseline_samples"] == obj["rows"] and details["baseline_days"] == 1
    # the job really ran: every suite was a step of the checks stage, and the day was posted
    steps = details["steps"]
    assert steps["raw__gpu_samples"] == "ingest" and steps["aidnav_dbt_models"] == "dbt"
    assert steps["onchain__daily_publication"] == "publish"
    assert sum(1 for k, v in steps.items() if "_suite_" in k and v == "checks") == 16
    assert details["publications"] >= 1


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
