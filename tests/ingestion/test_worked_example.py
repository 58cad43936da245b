"""The worked example's inputs load with the counts its README states."""

from __future__ import annotations

import shutil
from decimal import Decimal

from ingestion import ingest_landing
from ingestion.chain.bundle import load_chain_events_jsonl
from ingestion.registry import load_registry

RAW_TABLES = ("invoices", "gpu_samples", "robot_records", "quarantine", "chain_events",
              "chain_blocks", "ingested_files")


def _snapshot(con) -> dict[str, list]:
    out = {}
    for t in RAW_TABLES:
        cols = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name = ? and column_name not in ('loaded_at', 'quarantined_at') "
            "order by ordinal_position", [t]).fetchall()]
        out[t] = con.execute(f"select {', '.join(cols)} from raw.{t} order by all").fetchall()
    return out


def _load_all(con, root):
    reg = load_registry(con, root / "registry")
    stats = ingest_landing(con, root, reg)
    load_chain_events_jsonl(con, root / "chain_events.jsonl")
    return reg, stats


def test_gpu_quarantine_is_48_bad_signature_1_temperature_1_unknown_gpu(con, worked_example_input):
    _, stats = _load_all(con, worked_example_input)
    assert stats["gpu_telemetry"].rows_quarantined == 50
    rows = con.execute("select file, field, reason from raw.quarantine "
                       "where source = 'gpu_telemetry'").fetchall()
    bad_sig = [r for r in rows if r[0].endswith("node-n2/node-n2-2026-02-08-12.jsonl")]
    assert len(bad_sig) == 48 and all(f == "" and "signature" in why for _, f, why in bad_sig)
    temp = [r for r in rows if r[1] == "temp_c"]
    assert len(temp) == 1 and "150" in temp[0][2] and "2026-02-07" in temp[0][0]
    unknown = [r for r in rows if r[1] == "gpu_uuid"]
    assert len(unknown) == 1 and "unknown asset" in unknown[0][2] and "2026-03-04" in unknown[0][0]


def test_robot_records_all_valid(con, worked_example_input):
    _, stats = _load_all(con, worked_example_input)
    assert stats["robot_telemetry"].rows_quarantined == 0
    # 3 robots x 3 records a day x 40 days, less the 6 records of PM-CR-000101 powered
    # off on 02-25 and 02-26
    assert con.execute("select count(*) from raw.robot_records").fetchone()[0] == 354
    assert con.execute("select count(*) from raw.quarantine where source <> 'gpu_telemetry'"
                       ).fetchone()[0] == 0


def test_gpu_sample_count(con, worked_example_input):
    _load_all(con, worked_example_input)
    # 8 GPUs x 24 samples x 40 days = 7680, less H100 #4's 10 silent days (240), the
    # bad batch (48), the 150 C sample, H100 #3 after 02-24 18:00 (6): in the lake (read
    # through raw.gpu_samples) once each; the ledger also counts the 3 duplicates delivered
    n, distinct = con.execute(
        "select count(*), count(distinct (gpu_uuid, ts)) from raw.gpu_samples").fetchone()
    assert n == distinct == 7680 - 240 - 48 - 1 - 6
    assert con.execute("select sum(rows_loaded) from raw.ingested_files "
                       "where source = 'gpu_telemetry'").fetchone()[0] == n + 3
    assert con.execute("select count(*) from raw.gpu_samples where gpu_uuid = "
                       "'GPU-082384b2-1231-18a6-3271-2fa58b552cff' and ts::date = '2026-02-08'"
                       ).fetchone()[0] == 12


def test_invoices_keep_every_version_once(con, worked_example_input):
    _load_all(con, worked_example_input)
    rows = con.execute("select invoice_id, version, amount_usd, status, delivery_date::varchar "
                       "from raw.invoices order by invoice_id, version").fetchall()
    assert rows == [
        ("INV-N1-0001", 1, Decimal("13440"), "issued", "2026-01-26"),
        ("INV-N2-0001", 1, Decimal("8400"), "issued", "2026-01-25"),
        ("INV-N2-0001", 2, Decimal("8400"), "paid", "2026-02-18"),
        ("INV-N2-0002", 1, Decimal("33600"), "issued", "2026-02-01"),
        ("INV-N2-0002", 2, Decimal("35000"), "issued", "2026-02-20"),
        ("INV-N2-0003", 1, Decimal("-1400"), "issued", "2026-02-18"),
        ("INV-N2-0004", 1, Decimal("2500"), "issued", "2026-02-20"),
        ("INV-N2-0004", 2, Decimal("2500"), "void", "2026-02-26"),
        ("INV-N2-0005", 1, Decimal("38750"), "issued", "2026-03-01"),
    ]


def test_reingestion_changes_nothing(con, worked_example_input):
    reg, _ = _load_all(con, worked_example_input)
    before = _snapshot(con)
    stats = ingest_landing(con, worked_example_input, reg)
    load_chain_events_jsonl(con, worked_example_input / "chain_events.jsonl")
    assert all(s.files_read == 0 and s.rows_loaded == 0 for s in stats.values())
    assert _snapshot(con) == before


def test_duplicate_invoice_file_under_new_path_changes_nothing(con, worked_example_input,
                                                             tmp_path):
    root = tmp_path / "input"
    shutil.copytree(worked_example_input, root)
    reg, _ = _load_all(con, root)
    before = _snapshot(con)["invoices"]
    again = root / "landing/invoices/P-NEO2/2026-03-05"
    again.mkdir()
    shutil.copy(root / "landing/invoices/P-NEO2/2026-02-20/invoices_2026-02-20.csv", again / "x.csv")
    stats = ingest_landing(con, root, reg)
    assert stats["invoices"].files_read == 1 and stats["invoices"].rows_loaded == 0
    assert stats["invoices"].rows_quarantined == 0
    assert _snapshot(con)["invoices"] == before


def test_dates_limit_the_delivery_folders(con, worked_example_input):
    from datetime import date

    reg = load_registry(con, worked_example_input / "registry")
    stats = ingest_landing(con, worked_example_input, reg, dates=[date(2026, 2, 8)])
    assert stats["gpu_telemetry"].files_read == 3  # node-n1 + node-n2's two batches
    assert stats["gpu_telemetry"].rows_quarantined == 48
    assert stats["robot_telemetry"].files_read == 1
    assert stats["invoices"].files_read == 0


def test_quarantined_records_also_written_as_jsonl(con, worked_example_input, tmp_path):
    import json

    root = tmp_path / "data"
    shutil.copytree(worked_example_input, root)
    reg = load_registry(con, root / "registry")
    ingest_landing(con, root, reg, quarantine_dir=root / "quarantine")
    files = sorted((root / "quarantine" / "gpu_telemetry").rglob("*.jsonl"))
    rows = [json.loads(x) for f in files for x in f.read_text().splitlines()]
    assert len(rows) == 50
    assert {r["field"] for r in rows} == {"", "temp_c", "gpu_uuid"}
