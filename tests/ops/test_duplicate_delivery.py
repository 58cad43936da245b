"""A restatement is a change of figures, not of inputs: the same content delivered again
under another file name (in the D+1 folder, which feeds the day's report inputs) changes
neither the day's report hash nor anything recorded, posted or not."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from publishing.publication import (
    build_nav_report,
    prepare_day,
    read_day,
    record_publication,
)
from publishing.reports import report_hash
from ingestion.load import ingest_landing
from ingestion.registry import parse_registry
from ingestion.warehouse import connect
from publishing.publisher import PublishResult
from tests.fixture_paths import WORKED_EXAMPLE_INPUT
from tests.ops.conftest import END, INCEPTION, checkpoint

DAY = date(2026, 3, 4)  # its D+1 delivery folder is 2026-03-05
ORIGINAL = "invoices/P-NEO2/2026-02-26/invoices_2026-02-26.csv"
AGAIN = "invoices/P-NEO2/2026-03-05/invoices_resent.csv"


def _hashes(con: duckdb.DuckDBPyConnection, day: date) -> bytes:
    return report_hash(build_nav_report(con, read_day(con, day)))


def test_same_content_under_a_new_name_is_no_restatement(example_warehouse, tmp_path):
    from modelling.replay import run_dbt

    data = tmp_path / "data"
    shutil.copytree(WORKED_EXAMPLE_INPUT / "landing", data / "landing")
    shutil.copytree(WORKED_EXAMPLE_INPUT / "registry", data / "registry")
    warehouse = data / "warehouse.duckdb"
    shutil.copy(example_warehouse, warehouse)
    reports = data / "reports"

    con = connect(warehouse)
    try:
        before = _hashes(con, DAY)
        first = prepare_day(con, reports, DAY)  # written, then posted on chain 31337
        for ready in (first.nav, first.rewards):
            record_publication(con, 31337, PublishResult(
                DAY, ready.kind, "posted", "0x" + "ab" * 32, 7, ready.written.sha256_hex))
        posted = {k: (reports / k / f"{DAY}.json").read_bytes() for k in ("nav", "rewards")}

        (data / "landing" / AGAIN).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / "landing" / ORIGINAL, data / "landing" / AGAIN)
        ingest_landing(con, data, parse_registry(data / "registry"))
        assert con.execute("select count(*) from raw.ingested_files where file like ?",
                           ["%invoices_resent.csv"]).fetchone()[0] == 1
    finally:
        con.close()
    run_dbt(warehouse, INCEPTION, END, tmp_path / "dbt")  # the models see the delivery too
    checkpoint(warehouse)

    con = connect(warehouse)
    try:
        assert _hashes(con, DAY) == before  # an unposted day's report: the same bytes
        again = prepare_day(con, reports, DAY)
        assert again.nav.posted and again.nav.restated is None
        assert again.rewards.posted and again.rewards.restated is None
        assert again.nav.written.sha256 == first.nav.written.sha256
        assert con.execute("select count(*) from marts.restatements").fetchone()[0] == 0
    finally:
        con.close()
    assert {k: (reports / k / f"{DAY}.json").read_bytes() for k in posted} == posted
    assert sorted(p.name for p in reports.rglob("*restated*")) == []


def test_new_content_in_the_folder_is_a_new_input(example_warehouse, tmp_path: Path):
    """The other side: a file with other bytes does enter the day's inputs."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(example_warehouse, warehouse)
    con = connect(warehouse)
    try:
        before = _hashes(con, DAY)
        con.execute("insert into raw.ingested_files values "
                    "('invoices', ?, ?, 1, 0, now())", [AGAIN, "cd" * 32])
        assert _hashes(con, DAY) != before
    finally:
        con.close()
