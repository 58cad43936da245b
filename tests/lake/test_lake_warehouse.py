"""The warehouse of a lake-fed pipeline: the loader of `gpu_telemetry` leaves samples in the
lake and per-GPU daily figures, quarantine rows and the ledger in the warehouse, with
raw.gpu_samples a view of the lake."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ingestion.lake.ingest import ingest_gpu_lake, lake_of, point_samples_view, samples_of_days
from ingestion.lake.lake import SAMPLE_SCHEMA, Lake
from ingestion.load import ingest_source
from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.warehouse import connect
from quality.suites import validate_table
from tests.lake.lake_fixtures import NOW, REGISTRY, gpu, sample, write_batch

DAY = date(2026, 3, 1)


def _daily(con) -> dict[tuple[date, str], tuple]:
    return {(d, a): tuple(rest) for d, a, *rest in con.execute(
        "select day, asset_id, node_id, valid_samples, util_sum, energy_in_day_mj, "
        "first_energy_mj, last_energy_mj from raw.gpu_daily").fetchall()}


def _kind(con) -> str:
    return con.execute("select table_type from information_schema.tables where "
                       "table_schema = 'raw' and table_name = 'gpu_samples'").fetchall()[0][0]


def test_landing_source_goes_to_the_lake_and_the_daily_table(tmp_path):
    data = tmp_path / "data"
    landing = data / "landing"
    write_batch(landing, "2026-03-01", 0, "a", [
        sample("2026-03-01T10:00:00Z", 2, 7_000_000, util=10),
        sample("2026-03-01T10:01:00Z", 2, 7_001_000, util=20),
        sample("2026-03-01T10:01:00Z", 2, 7_001_000, util=20),  # repeated line
        sample("2026-03-01T10:02:00Z", 2, 7_003_000, util=30),
        sample("2026-03-01T10:03:00Z", 2, 7_004_000, util=130),  # out of range: quarantined
    ])
    con = connect(data / "warehouse.duckdb")
    stats = ingest_source(con, "gpu_telemetry", data, REGISTRY)
    assert (stats.rows_loaded, stats.rows_quarantined) == (4, 1)
    # 3 samples once each: 10 + 20 + 30 %, deltas 1,000 and 2,000 mJ within the power bound
    assert _daily(con) == {(DAY, gpu(2)): ("node-0000", 3, Decimal(60), Decimal(3000),
                                          Decimal(7_000_000), Decimal(7_003_000))}
    assert _kind(con) == "VIEW"
    assert con.execute("select count(*), count(distinct ts), min(source_file) "
                       "from raw.gpu_samples").fetchall() == [
        (3, 3, "gpu_telemetry/2026-03-01/node-0000/a.jsonl")]
    assert Lake(data / "lake").partitions() == [("node-0000", DAY)]
    assert con.execute("select file, line, field from raw.quarantine").fetchall() == [
        ("gpu_telemetry/2026-03-01/node-0000/a.jsonl", 5, "gpu_util_pct")]
    assert con.execute("select file, rows_loaded, rows_quarantined from raw.ingested_files"
                       ).fetchall() == [("gpu_telemetry/2026-03-01/node-0000/a.jsonl", 4, 1)]

    # a late sample of the same day: its row of raw.gpu_daily is replaced, not added to
    write_batch(landing, "2026-03-02", 0, "late", [sample("2026-03-01T10:04:00Z", 2, 7_010_000)])
    again = ingest_source(con, "gpu_telemetry", data, REGISTRY)
    assert (again.files_read, again.files_skipped) == (1, 1)
    assert _daily(con)[(DAY, gpu(2))][1:4] == (4, Decimal(110), Decimal(10_000))
    assert con.execute("select count(*) from raw.gpu_daily").fetchone()[0] == 1
    con.close()

    # the view reads the lake from another connection too (dbt's, the checks')
    ro = connect(data / "warehouse.duckdb", read_only=True)
    assert ro.execute("select count(*) from raw.gpu_samples").fetchone()[0] == 4
    ro.close()


def test_samples_kept_in_the_warehouse_move_to_the_lake(tmp_path):
    landing = tmp_path / "landing"
    write_batch(landing, "2026-03-01", 1, "b", [
        sample("2026-03-01T10:00:00Z", 8, 100, util=40),
        sample("2026-03-01T10:00:00Z", 8, 100, util=40),
        sample("2026-03-01T10:01:00Z", 8, 50, util=60)])  # a counter reset: 0
    con = connect(tmp_path / "warehouse.duckdb")
    ingest_gpu_telemetry(con, landing, REGISTRY, now=NOW)  # the samples in the warehouse
    assert con.execute("select count(*) from raw.gpu_samples").fetchone()[0] == 3
    stats = ingest_gpu_lake(con, landing, REGISTRY, now=NOW)
    assert stats.files_skipped == 1
    assert _kind(con) == "VIEW"
    assert Lake(tmp_path / "lake").read("node-0001", DAY).num_rows == 2
    assert _daily(con) == {(DAY, gpu(8)): ("node-0001", 2, Decimal(100), Decimal(0),
                                          Decimal(100), Decimal(50))}


def test_the_lake_of_a_warehouse(tmp_path, monkeypatch):
    mem = connect(":memory:")
    assert lake_of(mem).startswith("memory://") and lake_of(mem) == lake_of(mem)
    assert lake_of(connect(":memory:")) != lake_of(mem)
    monkeypatch.setenv("AIDNAV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AIDNAV_WAREHOUSE", raising=False)
    monkeypatch.setenv("AIDNAV_LAKE_URL", "s3://fleet/lake")
    assert lake_of(connect(tmp_path / "data" / "warehouse.duckdb")) == "s3://fleet/lake"
    # a warehouse of its own (a replay's, a test's) never writes to the configured lake
    assert lake_of(connect(tmp_path / "replay" / "warehouse.duckdb")) == \
        str((tmp_path / "replay" / "lake").resolve())


def test_lake_schema_is_the_checked_samples_schema():
    con = connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    assert con.sql("select * from raw.gpu_samples").to_arrow_table().schema == SAMPLE_SCHEMA


def _tampered_batch(landing, day: str, node: int, name: str, lines: int) -> str:
    """A batch whose bytes changed after its node signed them: refused whole, a
    quarantine row per line."""
    rel = write_batch(landing, day, node, name, [
        sample(f"2026-03-01T10:{m:02d}:00Z", node * 8, 1_000 * m) for m in range(lines)])
    path = landing / rel
    path.write_bytes(path.read_bytes().replace(b'"temp_c":64', b'"temp_c":65'))
    return rel


def test_refused_lines_reach_the_warehouse_from_the_run_s_fragments(tmp_path):
    """A delivery refused whole is a quarantine row per line: each check task leaves its
    rows in a Parquet fragment that DuckDB inserts, the run's process never holds them
    (the rows equal those of the run read into memory, another path), and the fragments
    go with the run."""
    from ingestion.lake.engine import gpu_telemetry_run, run_gpu_telemetry
    from ingestion.lake.ingest import store_run
    from ingestion.landing import ledger

    landing = tmp_path / "landing"
    refused = [_tampered_batch(landing, "2026-03-01", n, "x", 30) for n in (0, 1)]
    write_batch(landing, "2026-03-01", 0, "good", [sample("2026-03-01T11:00:00Z", 1, 5)])
    con = connect(tmp_path / "warehouse.duckdb")
    lake = str(tmp_path / "lake")
    # every delivery folder a task of its own: two tasks refuse a batch each
    with gpu_telemetry_run(landing, lake, REGISTRY, ledger(con, "gpu_telemetry"), now=NOW,
                           scheduler="", task_bytes=1) as run:
        assert run.kept_quarantine is None and run.quarantine_rows == 60
        assert len(run.quarantine_files) == 2
        assert all(Lake(lake).fs.exists(p) for p in run.quarantine_files)
        store_run(con, run, lake)
    assert not (tmp_path / "lake" / "_incoming").exists() or \
        not any((tmp_path / "lake" / "_incoming").iterdir())
    stored = con.execute("select file, line, field, reason, record from raw.quarantine "
                         "order by file, line").fetchall()
    assert [(f, n) for f, n, *_ in stored] == [(r, n) for r in refused for n in range(1, 31)]
    assert all(r[3] and r[4] for r in stored)  # each names why, and keeps the line
    assert con.execute("select count(*) from raw.gpu_daily").fetchone()[0] == 1

    other = run_gpu_telemetry(landing, tmp_path / "lake-2", REGISTRY, {}, now=NOW,
                              scheduler="", task_bytes=1)
    q = other.quarantine.to_pydict()
    assert sorted(zip(q["file"], q["line"], q["field"], q["reason"], q["record"])) == stored


def test_an_in_memory_warehouse_reads_its_refused_lines_from_its_in_memory_lake(tmp_path):
    landing = tmp_path / "landing"
    _tampered_batch(landing, "2026-03-01", 1, "x", 12)
    con = connect(":memory:")
    stats = ingest_gpu_lake(con, landing, REGISTRY, now=NOW)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 12)
    assert con.execute("select count(*), count(distinct line) from raw.quarantine "
                       "where source = 'gpu_telemetry'").fetchone() == (12, 12)


def _rewrite_keeping_size(path, old: bytes, new: bytes, mtime_ns: int | None) -> None:
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new))
    if mtime_ns is not None:  # as it was listed: size and modification time unchanged
        os.utime(path, ns=(mtime_ns, mtime_ns))


def _quarantined(con) -> list[tuple[str, int, str]]:
    return con.execute("select file, line, reason from raw.quarantine "
                       "order by file, line").fetchall()


def test_a_batch_listed_as_it_was_read_is_not_read_again(tmp_path):
    """A ledgered batch listed with the size and modification time it was read with is
    left out unopened (a change that keeps both goes unseen: deliveries are immutable by
    contract, and what was ingested stays in the lake); any other change is read, and
    the batch quarantined as changed after it was ingested."""
    landing = tmp_path / "landing"
    rel = write_batch(landing, "2026-03-01", 0, "a", [
        sample("2026-03-01T10:00:00Z", 2, 7_000_000), sample("2026-03-01T10:01:00Z", 2, 7_001_000)])
    path = landing / rel
    con = connect(tmp_path / "warehouse.duckdb")
    assert ingest_gpu_lake(con, landing, REGISTRY, now=NOW).rows_loaded == 2
    listed = path.stat()
    assert con.execute("select size_bytes, modified_at from raw.ingested_file_stats "
                       "where file = ?", [rel]).fetchall() == [(listed.st_size, listed.st_mtime)]

    _rewrite_keeping_size(path, b'"temp_c":64', b'"temp_c":66', listed.st_mtime_ns)
    again = ingest_gpu_lake(con, landing, REGISTRY, now=NOW)
    assert (again.files_read, again.files_skipped, again.rows_quarantined) == (0, 1, 0)
    assert _quarantined(con) == []

    os.utime(path, ns=(listed.st_mtime_ns + 10**9, listed.st_mtime_ns + 10**9))  # touched
    third = ingest_gpu_lake(con, landing, REGISTRY, now=NOW)
    assert third.files_read == 1
    assert [(f, n) for f, n, _ in _quarantined(con)] == [(rel, 1), (rel, 2)]
    assert all("changed after it was ingested" in r for *_, r in _quarantined(con))
    # the daily figures are still those of the bytes first ingested
    assert _daily(con)[(DAY, gpu(2))][1] == 2


def test_a_ledger_without_the_listing_reads_every_batch_once_more(tmp_path):
    """A warehouse whose ledger has no recorded listing (one written before it was kept)
    reads and hashes each batch again, so a change that kept size and time is caught
    there, and records the listing for the next run."""
    landing = tmp_path / "landing"
    rel = write_batch(landing, "2026-03-01", 1, "b", [sample("2026-03-01T10:00:00Z", 9, 5)])
    path = landing / rel
    con = connect(tmp_path / "warehouse.duckdb")
    ingest_gpu_lake(con, landing, REGISTRY, now=NOW)
    con.execute("delete from raw.ingested_file_stats")
    _rewrite_keeping_size(path, b'"temp_c":64', b'"temp_c":67', path.stat().st_mtime_ns)
    again = ingest_gpu_lake(con, landing, REGISTRY, now=NOW)
    assert again.files_read == 1 and again.rows_quarantined == 1
    assert "changed after it was ingested" in _quarantined(con)[0][2]
    assert con.execute("select count(*) from raw.ingested_file_stats").fetchone()[0] == 1
    assert ingest_gpu_lake(con, landing, REGISTRY, now=NOW).files_read == 0


def test_a_killed_run_s_fragments_go_with_the_next_run(tmp_path):
    """A run killed outright leaves its `_incoming/<run>` folder; the next run of the
    warehouse (the one process that may write it) removes it, and stores as a clean run."""
    landing = tmp_path / "landing"
    write_batch(landing, "2026-03-01", 0, "a", [sample("2026-03-01T10:00:00Z", 2, 7)])
    killed = tmp_path / "lake" / "_incoming" / "killedrun" / "day=2026-03-01" / "node=node-0000"
    killed.mkdir(parents=True)
    (killed / "0.arrow").write_bytes(b"half a fragment")
    con = connect(tmp_path / "warehouse.duckdb")
    assert ingest_gpu_lake(con, landing, REGISTRY, now=NOW).rows_loaded == 1
    assert list((tmp_path / "lake" / "_incoming").glob("*")) == []
    assert Lake(tmp_path / "lake").partitions() == [("node-0000", DAY)]


def test_a_window_s_samples_are_read_from_its_days_partitions_alone(tmp_path):
    data = tmp_path / "data"
    landing = data / "landing"
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        write_batch(landing, day, 0, "a", [sample(f"{day}T10:00:00Z", 2, 7_000_000, util=10),
                                           sample(f"{day}T10:01:00Z", 3, 8_000_000, util=20)])
    con = connect(data / "warehouse.duckdb")
    ingest_source(con, "gpu_telemetry", data, REGISTRY)
    window = "where ts >= '2026-03-02' and ts < '2026-03-03'"
    everything = con.execute(f"select * from raw.gpu_samples {window} order by all").fetchall()
    narrowed = samples_of_days(con, date(2026, 3, 2), date(2026, 3, 2))
    assert len(everything) == 2
    assert con.execute(f"select * from {narrowed} {window} order by all").fetchall() == everything
    # another day's partition, unreadable, is never opened (the whole view trips on it)
    Path(Lake(data / "lake").partition_path("node-0000", date(2026, 3, 1))).write_bytes(b"x")
    assert con.execute(f"select * from {narrowed} {window} order by all").fetchall() == everything
    with pytest.raises(duckdb.Error):
        con.execute(f"select * from raw.gpu_samples {window}").fetchall()
    # and so the samples' suite: two GPUs on the day (whose registry this warehouse was
    # never given: only the registry references fail)
    result = validate_table(con, "raw.gpu_samples", date(2026, 3, 2), date(2026, 3, 2))
    assert result.rows == 2
    assert {f.column for f in result.failures} == {"gpu_registered", "node_registered"}
    # a day without partitions: no rows, the view's columns
    empty = samples_of_days(con, date(2026, 3, 9), date(2026, 3, 9))
    assert con.execute(f"select * from {empty}").fetchall() == []
    assert [c[0] for c in con.execute(f"describe select * from {empty}").fetchall()] == \
        SAMPLE_SCHEMA.names


def test_samples_kept_in_a_table_or_another_lake_are_read_whole(tmp_path):
    con = connect(tmp_path / "warehouse.duckdb")
    assert samples_of_days(con, DAY, DAY) == "raw.gpu_samples"  # no lake yet: the table
    other = Lake(tmp_path / "elsewhere")
    other.write("node-0000", DAY, pa.Table.from_pylist([], schema=SAMPLE_SCHEMA))
    point_samples_view(con, str(tmp_path / "elsewhere"), has_samples=True)
    assert samples_of_days(con, DAY, DAY) == "raw.gpu_samples"  # not this warehouse's lake
