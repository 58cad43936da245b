"""Deliveries a hostile provider or a clumsy operator could put in the landing zone: values
the marts cannot hold, huge files, links out of the zone, records dated in the future,
endless invoice periods, empty batches with a bad signature. Each is quarantined (file,
line, field, the bound) and the rest of the delivery loads."""

from __future__ import annotations

import json
import os
import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal

from ingestion.invoices.reader import ingest_invoices
from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.robots.reader import ingest_robot_telemetry
from tests.ingestion.ingestion_fixtures import GPU_A, OTHER_KEY, TEST_KEY
from tests.ingestion.ingestion_fixtures import sample, write_batch
from tests.ingestion.ingestion_fixtures import rec

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc)
HEADER = ("invoice_id,version,provider_id,deal_id,customer_id,issue_date,due_date,"
          "period_start,period_end,usage_hours,amount_usd,status,paid_date\n")


def q_rows(con, source):
    return con.execute("select file, line, field, reason, record from raw.quarantine "
                       "where source = ? order by file, line", [source]).fetchall()


def robot_file(landing, name, lines, day="2026-02-01", fleet="fleet-1"):
    d = landing / "robot_telemetry" / day / fleet
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text("\n".join(lines) + "\n")
    return d / name


def invoice_file(landing, name, rows, provider="P-A", day="2026-02-15"):
    d = landing / "invoices" / provider / day
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(HEADER + "".join(r + "\n" for r in rows))
    return d / name


# --- values the marts cannot hold ---------------------------------------------------------

def test_signed_energy_of_1e31_is_quarantined_naming_field_and_bound(con, registry, landing):
    write_batch(landing, "b1", [sample(ts="2026-02-01T00:00:00Z"),
                                sample(ts="2026-02-01T01:00:00Z", energy_mj=1e31)])
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 1)
    [(file, line, field, reason, _)] = q_rows(con, "gpu_telemetry")
    assert (file, line, field) == ("gpu_telemetry/2026-02-01/node-t/b1.jsonl", 2, "energy_mj")
    assert "out of range" in reason and "0..1e14" in reason


def test_robot_area_of_1e30_is_quarantined_naming_field_and_bound(con, registry, landing):
    big = {"operating_s": 100, "cleaning_s": 50, "area_cleaned_m2": 1e30}
    robot_file(landing, "r.jsonl", [rec(), rec(ts="2026-02-01T01:00:00Z", counters=big)])
    stats = ingest_robot_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 1)
    [(file, line, field, reason, _)] = q_rows(con, "robot_telemetry")
    assert (file, line, field) == ("robot_telemetry/2026-02-01/fleet-1/r.jsonl", 2,
                                   "counters.area_cleaned_m2")
    assert "0..1e10" in reason


def test_invoice_amount_of_25_integer_digits_is_a_quarantined_row_not_a_failed_load(
        con, registry, landing):
    invoice_file(landing, "inv.csv", [
        "I-1,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,8400.00,issued,",
        "I-2,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,"
        "1234567890123456789012345.00,issued,",
        "I-3,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,-1e400,issued,",
        "I-4,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,1.0000000000000000001,issued,",
    ])
    stats = ingest_invoices(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 3)
    q = q_rows(con, "invoices")
    assert [(f, line, field) for f, line, field, _, _ in q] == [
        ("invoices/P-A/2026-02-15/inv.csv", 3, "amount_usd"),
        ("invoices/P-A/2026-02-15/inv.csv", 4, "amount_usd"),
        ("invoices/P-A/2026-02-15/inv.csv", 5, "amount_usd")]
    assert "-1e12..1e12" in q[0][3] and "-1e12..1e12" in q[1][3]
    assert "19 decimal places" in q[2][3]
    assert con.execute("select invoice_id, amount_usd from raw.invoices").fetchall() == [
        ("I-1", Decimal("8400"))]


# --- files too large, lines too long --------------------------------------------------------

def test_a_200_mb_single_line_file_is_refused_unread_once(con, registry, landing):
    """The real limits: a sparse 200 MB file of one line (no newline), in each source."""
    paths = []
    for folder in ("gpu_telemetry/2026-02-01/node-t/big.jsonl",
                   "robot_telemetry/2026-02-01/fleet-1/big.jsonl",
                   "invoices/P-A/2026-02-15/big.csv"):
        p = landing / folder
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as fh:
            fh.truncate(200 << 20)
        paths.append(folder)
    tracemalloc.start()
    try:
        g = ingest_gpu_telemetry(con, landing, registry)
        r = ingest_robot_telemetry(con, landing, registry)
        i = ingest_invoices(con, landing, registry)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, f"{peak} bytes allocated: the file was read"
    assert [(s.files_read, s.rows_loaded, s.rows_quarantined) for s in (g, r, i)] == [
        (1, 0, 1)] * 3
    rows = con.execute("select file, line, reason, record from raw.quarantine order by file"
                       ).fetchall()
    assert [row[0] for row in rows] == sorted(paths)
    for _, line, reason, record in rows:
        assert line == 0 and record == ""
        assert f"file of {200 << 20} bytes" in reason and "refused unread" in reason
    ledger = con.execute("select file, rows_loaded, rows_quarantined from raw.ingested_files "
                         "order by file").fetchall()
    assert ledger == [(p, 0, 1) for p in sorted(paths)]
    again = [ingest_gpu_telemetry(con, landing, registry),
             ingest_robot_telemetry(con, landing, registry),
             ingest_invoices(con, landing, registry)]
    assert [(s.files_read, s.files_skipped) for s in again] == [(0, 1)] * 3
    assert con.execute("select count(*) from raw.quarantine").fetchone()[0] == 3


def test_an_injected_size_limit_refuses_a_larger_batch_and_keeps_a_smaller(con, registry,
                                                                           landing):
    small = write_batch(landing, "small", [sample()])
    write_batch(landing, "large", [sample(ts="2026-02-01T01:00:00Z")] * 3)
    limit = small.stat().st_size
    stats = ingest_gpu_telemetry(con, landing, registry, max_file_bytes=limit)
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (2, 1, 1)
    [(file, line, _, reason, _)] = q_rows(con, "gpu_telemetry")
    assert (file, line) == ("gpu_telemetry/2026-02-01/node-t/large.jsonl", 0)
    assert f"expected at most {limit} bytes" in reason


def test_a_line_over_64_kib_is_quarantined_and_the_other_lines_load(con, registry, landing):
    long = rec(ts="2026-02-01T01:00:00Z", note="x" * (70 << 10))
    robot_file(landing, "r.jsonl", [rec(), long, rec(ts="2026-02-01T02:00:00Z")])
    stats = ingest_robot_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 1)
    [(_, line, field, reason, record)] = q_rows(con, "robot_telemetry")
    assert (line, field) == (2, "")
    assert f"line of {len(long)} bytes: expected at most 65536" in reason
    assert len(record) == 200


# --- links and special files ----------------------------------------------------------------

def test_links_out_of_the_landing_zone_are_refused_and_never_read(con, registry, landing,
                                                                  tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text(rec() + "\n")
    d = landing / "robot_telemetry" / "2026-02-01" / "fleet-1"
    d.mkdir(parents=True)
    os.symlink("/etc/passwd", d / "passwd.jsonl")
    os.symlink(outside, d / "outside.jsonl")
    g = landing / "gpu_telemetry" / "2026-02-01" / "node-t"
    g.mkdir(parents=True)
    os.symlink("/etc/passwd", g / "passwd.jsonl")
    inv = landing / "invoices" / "P-A" / "2026-02-15"
    inv.mkdir(parents=True)
    os.symlink("/etc/passwd", inv / "passwd.csv")
    os.mkfifo(d / "pipe.jsonl")
    stats = [ingest_robot_telemetry(con, landing, registry),
             ingest_gpu_telemetry(con, landing, registry),
             ingest_invoices(con, landing, registry)]
    assert [(s.rows_loaded, s.rows_quarantined) for s in stats] == [(0, 3), (0, 1), (0, 1)]
    rows = con.execute("select file, line, reason, record from raw.quarantine order by file"
                       ).fetchall()
    assert [(f, line, record) for f, line, _, record in rows] == [
        ("gpu_telemetry/2026-02-01/node-t/passwd.jsonl", 0, ""),
        ("invoices/P-A/2026-02-15/passwd.csv", 0, ""),
        ("robot_telemetry/2026-02-01/fleet-1/outside.jsonl", 0, ""),
        ("robot_telemetry/2026-02-01/fleet-1/passwd.jsonl", 0, ""),
        ("robot_telemetry/2026-02-01/fleet-1/pipe.jsonl", 0, "")]
    assert "symbolic link" in rows[0][2] and "/etc/passwd" in rows[0][2]
    assert "named pipe" in rows[4][2]
    assert "root:" not in " ".join(str(r) for r in rows)
    assert con.execute("select count(*) from raw.robot_records").fetchone()[0] == 0
    again = ingest_robot_telemetry(con, landing, registry)
    assert (again.files_read, again.files_skipped) == (0, 3)


# --- time bounds ------------------------------------------------------------------------------

def test_samples_dated_after_the_delivery_day_or_the_clock_are_quarantined(con, registry,
                                                                           landing):
    lines = [sample(ts="2026-12-02T12:00:00Z"),      # 1 the delivery day: loads
             sample(ts="2026-12-03T05:59:00Z"),      # 2 before the clock: loads
             sample(ts="2026-12-03T07:00:00Z"),      # 3 after the clock
             sample(ts="2026-12-04T00:00:00Z"),      # 4 after day end + 1 day (and the clock)
             sample(ts="2027-06-01T00:00:00Z"),      # 5
             sample(ts="9999-12-31T00:00:00Z")]      # 6
    write_batch(landing, "b", lines, day="2026-12-02")
    stats = ingest_gpu_telemetry(con, landing, registry, now=NOW)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 4)
    q = q_rows(con, "gpu_telemetry")
    assert [(line, field) for _, line, field, _, _ in q] == [(3, "ts"), (4, "ts"), (5, "ts"),
                                                            (6, "ts")]
    assert "is not before the run's clock: expected no record dated in the future" in q[0][3]
    # the clock's own time is not in the reason: a replay of the same bundle later gives
    # the same row
    assert "2026-12-03T06" not in q[0][3]


def test_delivery_day_bound_is_the_day_end_plus_one_day(con, registry, landing):
    lines = [sample(ts="2026-02-02T23:59:59Z"),      # 1 within the tolerance: loads
             sample(ts="2026-02-03T00:00:00Z"),      # 2 delivered 02-01: end 02-02 + 1 day
             sample(ts="9999-12-31T00:00:00Z")]      # 3
    write_batch(landing, "b", lines, day="2026-02-01")
    stats = ingest_gpu_telemetry(con, landing, registry, now=NOW)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 2)
    q = q_rows(con, "gpu_telemetry")
    assert [line for _, line, _, _, _ in q] == [2, 3]
    assert "2026-02-03T00:00:00+00:00, the end of the delivery day 2026-02-01 plus 1 day" in q[0][3]


def test_robot_records_dated_in_the_future_are_quarantined(con, registry, landing):
    robot_file(landing, "r.jsonl", [rec(ts="2026-12-02T10:00:00Z"),
                                    rec(ts="2026-12-04T00:00:00Z"),
                                    rec(ts="9999-12-31T23:59:59Z")], day="2026-12-02")
    stats = ingest_robot_telemetry(con, landing, registry, now=NOW)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 2)
    assert [(line, field) for _, line, field, _, _ in q_rows(con, "robot_telemetry")] == [
        (2, "ts"), (3, "ts")]


def test_invoice_periods_are_bounded_in_length_and_by_the_funding(con, registry, landing):
    # D-A was funded 2026-01-10
    invoice_file(landing, "inv.csv", [
        "I-1,1,P-A,D-A,C-1,2026-02-01,,0001-01-01,9999-12-31,10,100,issued,",
        "I-2,1,P-A,D-A,C-1,2026-02-01,,2026-01-09,2026-01-31,10,100,issued,",
        "I-3,1,P-A,D-A,C-1,2026-02-01,,2026-01-10,2027-01-10,10,100,issued,",   # 366 days
        "I-4,1,P-A,D-A,C-1,2026-02-01,,2026-01-10,2027-01-11,10,100,issued,",   # 367 days
    ])
    stats = ingest_invoices(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 3)
    q = q_rows(con, "invoices")
    assert [(line, field) for _, line, field, _, _ in q] == [
        (2, "period_end"), (3, "period_start"), (5, "period_end")]
    assert "covers 3652059 days: expected at most 366" in q[0][3]
    assert "funded_date 2026-01-10" in q[1][3]
    assert con.execute("select invoice_id from raw.invoices").fetchall() == [("I-3",)]


# --- rejected files always leave a row -------------------------------------------------------

def test_a_zero_byte_batch_with_a_bad_signature_leaves_one_row(con, registry, landing):
    write_batch(landing, "empty", [], key=OTHER_KEY)
    (landing / "gpu_telemetry" / "2026-02-01" / "node-t" / "empty.jsonl").write_bytes(b"")
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert stats.rows_quarantined == 1
    [(file, line, field, reason, _)] = q_rows(con, "gpu_telemetry")
    assert (file, line, field) == ("gpu_telemetry/2026-02-01/node-t/empty.jsonl", 0, "")
    assert reason.startswith("bad signature")
    ingest_gpu_telemetry(con, landing, registry)
    assert len(q_rows(con, "gpu_telemetry")) == 1


def test_a_zero_byte_batch_without_its_sig_leaves_one_row_replaced_when_signed(
        con, registry, landing):
    p = write_batch(landing, "empty", [], sig_override="nosig")
    ingest_gpu_telemetry(con, landing, registry)
    ingest_gpu_telemetry(con, landing, registry)
    [(_, line, _, reason, _)] = q_rows(con, "gpu_telemetry")
    assert line == 0 and "no .sig" in reason
    write_batch(landing, "empty", [], key=TEST_KEY)
    assert p.read_bytes() == b""
    ingest_gpu_telemetry(con, landing, registry)
    assert q_rows(con, "gpu_telemetry") == []


def test_a_sig_link_out_of_the_zone_rejects_its_batch_unread(con, registry, landing):
    batch = write_batch(landing, "b", [sample()], sig_override="nosig")
    os.symlink("/etc/passwd", str(batch) + ".sig")
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 1)
    [(_, line, _, reason, _)] = q_rows(con, "gpu_telemetry")
    assert line == 1 and reason.startswith(".sig file refused: a symbolic link")
    assert json.loads(batch.read_text())["gpu_uuid"] == GPU_A
