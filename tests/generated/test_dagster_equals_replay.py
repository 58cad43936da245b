"""The daily job's way and the auditor's way give the same marts on a generated book.

The Dagster side materialises the daily job's off-chain assets (registry, invoices, GPU and
robot telemetry, the dbt models with their tests) for the book's whole window in one run,
the way a single-run backfill does. The job's chain asset reads an RPC node, which a
generated book does not have: the book's `chain_events.jsonl` is loaded into the same
warehouse first with the bundle loader, and publishing (which needs the chain) is not part
of the run. The replay side is `aidnav replay` of the same book. Every mart CSV and the
quarantine must be byte-identical.

The window is in 2026, inside the job's daily partitions (which start in 2025 and end
yesterday), so this book has month ends but no 29 February."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from modelling.replay import MART_EXPORTS, export_marts, replay
from tests.generated.book_generator import generate_book

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated_dagster")]

SEED = 21
FIRST_DAY = date(2026, 1, 12)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def test_dagster_job_marts_equal_replay(tmp_path, monkeypatch):
    import dagster as dg

    from ingestion.chain.bundle import load_chain_events_jsonl
    from ingestion.warehouse import connect
    from orchestration.assets.dbt import aidnav_dbt_models
    from orchestration.assets.ingestion import (raw_gpu_samples, raw_invoices, raw_robot_records,
                                                registry)
    from orchestration.resources import RESOURCES, WarehouseResource

    book = generate_book(SEED, tmp_path / "input", first_day=FIRST_DAY)
    data = tmp_path / "data"
    shutil.copytree(book.input_dir, data)
    warehouse = data / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        load_chain_events_jsonl(con, data / "chain_events.jsonl")
    finally:
        con.close()

    # the dbt child process reads the warehouse from the environment
    monkeypatch.setenv("AIDNAV_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("AIDNAV_DATA_DIR", str(data))
    monkeypatch.setenv("AIDNAV_START_DATE", "")
    monkeypatch.setenv("AIDNAV_END_DATE", "")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [registry, raw_invoices, raw_gpu_samples, raw_robot_records, aidnav_dbt_models],
            resources={"warehouse": WarehouseResource(data_dir=str(data)), "dbt": RESOURCES["dbt"]},
            instance=instance, run_config=QUIET, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": book.first_day.isoformat(),
                  "dagster/asset_partition_range_end": book.last_day.isoformat()})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    evaluations = result.get_asset_check_evaluations()  # the dbt tests, grains included
    assert evaluations and all(e.passed for e in evaluations), [
        e.asset_check_key.name for e in evaluations if not e.passed]

    dagster_out = tmp_path / "dagster"
    export_marts(warehouse, book.first_day, book.last_day, dagster_out)
    replayed = replay(book.input_dir, book.first_day, book.last_day, tmp_path / "replay")
    assert replayed.rows["fct_nav_daily"] == book.days
    for name in [n for n, _, _ in MART_EXPORTS.values()] + ["quarantine"]:
        assert (dagster_out / f"{name}.csv").read_bytes() == (
            replayed.out_dir / f"{name}.csv").read_bytes(), name
