from __future__ import annotations

import json
from datetime import datetime, timezone

from ingestion.nvml.ingest import ingest_gpu_telemetry
from tests.ingestion.ingestion_fixtures import (GPU_A, GPU_B, OTHER_KEY, TEST_ADDR, sample, write_batch)


def quarantined(con):
    return con.execute("select file, line, field, reason from raw.quarantine "
                       "where source = 'gpu_telemetry' order by file, line").fetchall()


def test_eth_keys_uses_the_coincurve_backend():
    from eth_keys.backends import get_backend
    from eth_keys.backends.coincurve import CoinCurveECCBackend

    assert isinstance(get_backend(), CoinCurveECCBackend)


def test_bad_samples_quarantined_with_field_good_ones_load(con, registry, landing):
    lines = [
        sample(),                                                        # 1 good
        sample(GPU_B),                                                   # 2 good
        sample(gpu_util_pct=...),                                        # 3 missing field
        sample(power_w="lots"),                                          # 4 wrong type
        sample(temp_c="64"),                                             # 5 quoted number
        sample(ts="2026-02-01T00:01:00"),                                # 6 no UTC offset
        sample(ts="2026-02-31T00:00:00Z"),                               # 7 impossible date
        sample(gpu="GPU-unknown"),                                       # 8 unknown asset
        json.dumps(sample())[:50],                                       # 9 truncated line
        sample(gpu_util_pct=101),                                        # 10 out of range
        sample(power_w=2000.5),                                          # 11
        sample(temp_c=-21),                                              # 12
        sample(energy_mj=-1),                                            # 13
        "[1, 2]",                                                        # 14 not an object
        "",                                                              # 15 blank: skipped
        sample(ts="2026-02-01T07:00:00+07:00"),                          # 16 good, offset
    ]
    write_batch(landing, "b1", lines)
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (1, 3, 12)
    got = [(line, field) for _, line, field, _ in quarantined(con)]
    assert got == [(3, "gpu_util_pct"), (4, "power_w"), (5, "temp_c"), (6, "ts"), (7, "ts"),
                   (8, "gpu_uuid"), (9, ""), (10, "gpu_util_pct"), (11, "power_w"),
                   (12, "temp_c"), (13, "energy_mj"), (14, "")]
    reasons = {line: r for _, line, _, r in quarantined(con)}
    assert "missing gpu_util_pct" in reasons[3]
    assert "UTC offset" in reasons[6]
    assert "unknown asset GPU-unknown" in reasons[8]
    assert "0..100" in reasons[10] and "0..2000" in reasons[11] and "-20..130" in reasons[12]
    assert con.execute("select line, gpu_uuid, ts from raw.gpu_samples order by line"
                       ).fetchall() == [
        (1, GPU_A, datetime(2026, 2, 1, tzinfo=timezone.utc)),
        (2, GPU_B, datetime(2026, 2, 1, tzinfo=timezone.utc)),
        (16, GPU_A, datetime(2026, 2, 1, tzinfo=timezone.utc))]
    rec = con.execute("select record from raw.quarantine where line = 10").fetchall()[0][0]
    assert json.loads(rec)["gpu_util_pct"] == 101


def test_forged_signature_quarantines_the_whole_batch(con, registry, landing):
    write_batch(landing, "good", [sample()])
    write_batch(landing, "forged", [sample(GPU_B), sample(ts="2026-02-01T00:01:00Z"),
                                    sample(gpu="GPU-unknown")], key=OTHER_KEY,
                sig_override={"signer": TEST_ADDR})
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 3)
    q = quarantined(con)
    assert [(f.rsplit("/", 1)[1], line, field) for f, line, field, _ in q] == [
        ("forged.jsonl", 1, ""), ("forged.jsonl", 2, ""), ("forged.jsonl", 3, "")]
    assert all("bad signature" in r and TEST_ADDR in r for *_, r in q)


def test_tampered_sha256_and_modified_bytes_and_missing_sig(con, registry, landing):
    write_batch(landing, "tampered", [sample()], sig_override={"sha256": "00" * 32})
    path = write_batch(landing, "modified", [sample(GPU_B)])
    path.write_bytes(path.read_bytes().replace(b'"temp_c": 64', b'"temp_c": 65'))
    write_batch(landing, "unsigned", [sample(ts="2026-02-01T00:02:00Z")], sig_override="nosig")
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 3)
    reasons = {f.rsplit("/", 1)[1]: r for f, _, _, r in quarantined(con)}
    assert "sha256 mismatch" in reasons["tampered.jsonl"]
    assert "sha256 mismatch" in reasons["modified.jsonl"]
    assert ".sig" in reasons["unsigned.jsonl"]


def test_batch_of_unregistered_node(con, registry, landing):
    write_batch(landing, "stray", [sample()], node="node-unknown")
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert stats.rows_quarantined == 1
    assert "no registered node_address" in quarantined(con)[0][3]


def test_invalid_utf8_line_quarantined_rest_loads(con, registry, landing):
    bad = json.dumps(sample(GPU_B)).encode().replace(b"1654922001234", b"\xff\xfe")
    write_batch(landing, "b", [sample(), bad, sample(ts="2026-02-01T00:01:00Z")])
    stats = ingest_gpu_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 1)
    assert quarantined(con)[0][1:3] == (2, "")
    assert "UTF-8" in quarantined(con)[0][3]


def test_reingestion_is_a_no_op_and_duplicates_are_kept_raw(con, registry, landing):
    write_batch(landing, "b", [sample(), sample(), sample(temp_c=500)])
    first = ingest_gpu_telemetry(con, landing, registry)
    again = ingest_gpu_telemetry(con, landing, registry)
    assert (first.rows_loaded, first.rows_quarantined) == (2, 1)
    assert (again.files_read, again.files_skipped, again.rows_loaded) == (0, 1, 0)
    assert con.execute("select count(*) from raw.gpu_samples").fetchall() == [(2,)]
    assert con.execute("select count(*) from raw.quarantine").fetchall() == [(1,)]
    assert con.execute("select file, sha256 is not null, rows_loaded, rows_quarantined "
                       "from raw.ingested_files").fetchall() == [
        ("gpu_telemetry/2026-02-01/node-t/b.jsonl", True, 2, 1)]


def test_dates_select_delivery_folders(con, registry, landing):
    from datetime import date

    write_batch(landing, "d1", [sample()], day="2026-02-01")
    write_batch(landing, "d2", [sample(ts="2026-02-02T00:00:00Z")], day="2026-02-02")
    stats = ingest_gpu_telemetry(con, landing, registry, dates=[date(2026, 2, 2)])
    assert (stats.files_read, stats.rows_loaded) == (1, 1)
    assert con.execute("select batch_id from raw.gpu_samples").fetchall() == [("d2",)]


def test_batch_waiting_for_its_signature_loads_once_the_sig_arrives(con, registry, landing):
    path = write_batch(landing, "late-sig", [sample(), sample(GPU_B)])
    sig = path.with_name(path.name + ".sig")
    held_back = sig.read_bytes()
    sig.unlink()
    first = ingest_gpu_telemetry(con, landing, registry)
    assert (first.rows_loaded, first.rows_quarantined) == (0, 2)
    assert all(".sig" in r for *_, r in quarantined(con))
    sig.write_bytes(held_back)
    second = ingest_gpu_telemetry(con, landing, registry)
    assert (second.rows_loaded, second.rows_quarantined) == (2, 0)
    assert quarantined(con) == []
    assert con.execute("select count(*) from raw.gpu_samples").fetchone()[0] == 2
