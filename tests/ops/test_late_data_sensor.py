"""Late-data sensor: a delivery for an already computed day requests one re-run from the
first day it can change to the latest computed day, once per delivery."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from ingestion.late_data import plan_late_data, what_is_late
from orchestration.resources import WarehouseResource
from orchestration.sensors import late_data_sensor
from tests.fixture_paths import WORKED_EXAMPLE_INPUT
from tests.ops.conftest import END

HEADER = ("invoice_id,version,provider_id,deal_id,customer_id,issue_date,due_date,"
          "period_start,period_end,usage_hours,amount_usd,status,paid_date\n")
# a new version of an invoice for a February period, delivered after the last computed day
LATE_INVOICE = HEADER + ("INV-N2-0004,3,P-NEO2,D-GPU-RS,C-BETA,2026-02-20,2026-03-22,"
                         "2026-02-20,2026-02-24,200,2600.00,issued,\n")


@pytest.fixture()
def data_dir(example_warehouse, tmp_path, monkeypatch) -> Path:
    """A data directory whose warehouse has ingested the example and computed its 40 days.
    The warehouse is the one in it: an AIDNAV_WAREHOUSE left by an earlier test (the
    command line exports it) would name another file."""
    monkeypatch.delenv("AIDNAV_WAREHOUSE", raising=False)
    shutil.copytree(WORKED_EXAMPLE_INPUT / "landing", tmp_path / "landing")
    shutil.copytree(WORKED_EXAMPLE_INPUT / "registry", tmp_path / "registry")
    shutil.copy(example_warehouse, tmp_path / "warehouse.duckdb")
    return tmp_path


def evaluate(data_dir: Path, cursor: str | None = None):
    instance = dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(
            instance=instance, cursor=cursor,
            resources={"warehouse": WarehouseResource(data_dir=str(data_dir))}) as ctx:
        result = late_data_sensor(ctx)
        return result, ctx.cursor


def deliver(data_dir: Path, rel: str, text: str) -> None:
    path = data_dir / "landing" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_nothing_to_do_when_every_file_is_in_the_ledger(data_dir):
    result, _ = evaluate(data_dir)
    assert isinstance(result, dg.SkipReason)


def test_late_invoice_reruns_from_its_period_start_to_the_latest_day(data_dir):
    # delivered 2026-03-04 (a computed day), but it restates the 2026-02-20..24 period
    deliver(data_dir, "invoices/P-NEO2/2026-03-04/invoices_late.csv", LATE_INVOICE)
    result, cursor = evaluate(data_dir)
    assert isinstance(result, dg.RunRequest), result
    assert result.tags["dagster/asset_partition_range_start"] == "2026-02-20"
    assert result.tags["dagster/asset_partition_range_end"] == END.isoformat()
    assert result.run_key.startswith("late-data-") and cursor == result.run_key
    # the same delivery again: the same run key, and the sensor says it already asked
    again, _ = evaluate(data_dir, cursor)
    assert isinstance(again, dg.SkipReason) and "already requested" in again.skip_message
    fresh, _ = evaluate(data_dir)
    assert fresh.run_key == result.run_key


def test_late_telemetry_for_one_day_and_a_second_delivery_changes_the_key(data_dir):
    deliver(data_dir, "robot_telemetry/2026-03-02/F-LATE/late.jsonl", "{}\n")
    first, _ = evaluate(data_dir)
    assert first.tags["dagster/asset_partition_range_start"] == "2026-03-02"
    deliver(data_dir, "gpu_telemetry/2026-03-01/node-x/batch.jsonl", "{}\n")
    deliver(data_dir, "gpu_telemetry/2026-03-01/node-x/batch.jsonl.sig", "{}")
    second, _ = evaluate(data_dir, first.run_key)
    assert second.tags["dagster/asset_partition_range_start"] == "2026-03-01"
    assert second.run_key != first.run_key


def test_a_signature_arriving_after_its_batch_asks_for_the_days_again(data_dir):
    # a batch whose .sig has not arrived is quarantined and left out of the ledger, so it
    # is still late once read; its signature, delivered later, must ask again
    deliver(data_dir, "gpu_telemetry/2026-03-01/node-x/batch.jsonl", "{}\n")
    unsigned, cursor = evaluate(data_dir)
    assert isinstance(unsigned, dg.RunRequest), unsigned
    again, _ = evaluate(data_dir, cursor)
    assert isinstance(again, dg.SkipReason)  # nothing new: not asked twice
    deliver(data_dir, "gpu_telemetry/2026-03-01/node-x/batch.jsonl.sig", "{}")
    signed, _ = evaluate(data_dir, cursor)
    assert isinstance(signed, dg.RunRequest), signed
    assert signed.run_key != unsigned.run_key
    assert signed.tags["dagster/asset_partition_range_start"] == "2026-03-01"


def test_a_delivery_for_a_day_not_yet_computed_is_left_to_the_schedule(data_dir):
    deliver(data_dir, "gpu_telemetry/2026-03-06/node-x/batch.jsonl", "{}\n")
    result, _ = evaluate(data_dir)
    assert isinstance(result, dg.SkipReason)


def test_single_day_rerun_is_a_partition_request(data_dir):
    deliver(data_dir, f"robot_telemetry/{END.isoformat()}/F-LATE/late.jsonl", "{}\n")
    result, _ = evaluate(data_dir)
    assert result.partition_key == END.isoformat()


def test_plan_needs_computed_marts(example_loaded, tmp_path):
    import duckdb

    deliver(tmp_path, "gpu_telemetry/2026-03-01/node-x/batch.jsonl", "{}\n")
    con = duckdb.connect(str(example_loaded), read_only=True)
    try:
        assert plan_late_data(tmp_path / "landing", con) is None  # no marts: nothing computed
    finally:
        con.close()
    assert date(2026, 3, 1) <= END


def test_the_sensor_reads_while_a_run_holds_the_warehouse(data_dir, monkeypatch):
    from ingestion.warehouse import acquire_run_lock, release_run_lock

    # a sensor only reads: it must not queue behind the run that holds the warehouse
    # (were it to wait, it would give up after 1 s with WarehouseBusy)
    monkeypatch.setenv("AIDNAV_WAREHOUSE_WAIT_S", "1")
    fd = acquire_run_lock(data_dir / "warehouse.duckdb", "run in progress", 1)
    try:
        deliver(data_dir, "invoices/P-NEO2/2026-03-04/invoices_late.csv", LATE_INVOICE)
        result, _ = evaluate(data_dir)
        assert isinstance(result, dg.RunRequest), result
    finally:
        release_run_lock(fd)


def test_links_pipes_and_oversized_files_are_never_opened_by_the_sensor(data_dir, tmp_path):
    import os
    import threading

    gpu = data_dir / "landing" / "gpu_telemetry" / "2026-03-02" / "node-x"
    gpu.mkdir(parents=True)
    os.symlink("/etc/passwd", gpu / "passwd.jsonl")
    os.mkfifo(gpu / "pipe.jsonl")  # opening it for reading would block forever
    with open(gpu / "huge.jsonl", "wb") as fh:
        fh.truncate(200 << 20)
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(evaluate(data_dir)), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert outcome, "the sensor blocked on a landing file"
    result, _ = outcome[0]
    # still a late delivery for 2026-03-02: ingestion will quarantine the three files
    assert result.tags["dagster/asset_partition_range_start"] == "2026-03-02"


def test_an_invoice_dated_in_year_one_reruns_from_the_first_computed_day(data_dir):
    deliver(data_dir, "invoices/P-NEO2/2026-03-04/ancient.csv", HEADER +
            "X-1,1,P-NEO2,D-GPU-RS,C-9,0001-01-01,,0001-01-01,0001-01-31,10,100,issued,\n")
    result, _ = evaluate(data_dir)
    assert result.tags["dagster/asset_partition_range_start"] == "2026-01-25"  # inception


def test_the_landing_package_answers_for_a_landing_zone_behind_fsspec(data_dir):
    """The sensor asks `ingestion.late_data`; that answer reads through `Landing`, so a
    landing zone in an fsspec store (here memory://) is seen as a local one is."""
    import fsspec

    fs = fsspec.filesystem("memory")
    root = "memory://late-data-landing"
    local = data_dir / "landing"
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe(f"{root}/{path.relative_to(local).as_posix()}", path.read_bytes())
    try:
        nothing = what_is_late(data_dir / "warehouse.duckdb", root)
        assert nothing.plan is None and nothing.reason == "no late delivery for a computed day"
        fs.pipe(f"{root}/invoices/P-NEO2/2026-03-04/invoices_late.csv", LATE_INVOICE.encode())
        answer = what_is_late(data_dir / "warehouse.duckdb", root)
        # the late invoice's period starts 2026-02-20; the latest computed day is END
        assert answer.plan is not None
        assert (answer.plan.start, answer.plan.end) == (date(2026, 2, 20), END)
        assert [f.rel for f in answer.plan.files] == ["invoices/P-NEO2/2026-03-04/invoices_late.csv"]
    finally:
        fs.rm(root, recursive=True)


def test_no_warehouse_yet_is_a_skip(tmp_path):
    answer = what_is_late(tmp_path / "warehouse.duckdb", tmp_path / "landing")
    assert answer.plan is None and answer.reason == "no warehouse yet"
