"""Chunked GPU telemetry ingestion: loading the batches a few at a time (each chunk in its
own transaction) gives the same raw tables, quarantine and ledger as one pass."""

from __future__ import annotations

import json

import pytest

from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.registry import load_registry
from ingestion.warehouse import connect
from tests.ingestion.ingestion_fixtures import GPU_A, GPU_B, OTHER_KEY, TEST_ADDR
from tests.ingestion.ingestion_fixtures import sample, write_batch

SAMPLES = "select * from raw.gpu_samples order by source_file, line"
QUARANTINE = ("select source, file, line, field, reason, record from raw.quarantine "
              "order by file, line")
LEDGER = ("select source, file, sha256, rows_loaded, rows_quarantined from raw.ingested_files "
          "order by file")


def _fill(landing):
    """Six batches: good, mixed, forged, unsigned, invalid UTF-8, and a second good day."""
    write_batch(landing, "a-good", [sample(), sample(GPU_B)])
    write_batch(landing, "b-mixed", [sample(ts="2026-02-01T00:01:00Z"), sample(temp_c=500),
                                     sample(gpu="GPU-unknown"), "{not json"])
    write_batch(landing, "c-forged", [sample(GPU_B)], key=OTHER_KEY,
                sig_override={"signer": TEST_ADDR})
    write_batch(landing, "d-unsigned", [sample(ts="2026-02-01T00:02:00Z")], sig_override="nosig")
    bad = json.dumps(sample(GPU_B)).encode().replace(b"1654922001234", b"\xff\xfe")
    write_batch(landing, "e-utf8", [sample(GPU_A, ts="2026-02-01T00:03:00Z"), bad])
    write_batch(landing, "f-day2", [sample(ts="2026-02-02T00:00:00Z")], day="2026-02-02")


def _tables(con):
    return [con.execute(q).fetchall() for q in (SAMPLES, QUARANTINE, LEDGER)]


@pytest.fixture
def other_con(registry_dir):
    c = connect(":memory:")
    load_registry(c, registry_dir)
    yield c
    c.close()


def test_one_batch_per_chunk_gives_the_tables_of_one_pass(con, registry, other_con, landing):
    _fill(landing)
    whole = ingest_gpu_telemetry(con, landing, registry)
    chunked = ingest_gpu_telemetry(other_con, landing, registry, chunk_bytes=1)
    # by hand: loaded a-good 2 + b-mixed 1 + e-utf8 1 + f-day2 1; quarantined b-mixed 3,
    # c-forged 1, d-unsigned 1, e-utf8 1; the unsigned batch stays out of the ledger
    assert (whole.files_read, whole.rows_loaded, whole.rows_quarantined) == (6, 5, 6)
    assert (chunked.files_read, chunked.rows_loaded, chunked.rows_quarantined) == (6, 5, 6)
    one_pass, by_chunk = _tables(con), _tables(other_con)
    assert [len(t) for t in one_pass] == [5, 6, 5]
    assert by_chunk == one_pass


def test_chunked_reingestion_is_a_no_op_and_a_late_sig_replaces_its_quarantine(
        con, registry, landing):
    _fill(landing)
    ingest_gpu_telemetry(con, landing, registry, chunk_bytes=200)
    before = _tables(con)
    again = ingest_gpu_telemetry(con, landing, registry, chunk_bytes=200)
    assert (again.files_read, again.files_skipped, again.rows_loaded) == (1, 5, 0)
    assert _tables(con) == before       # the unsigned batch is quarantined again, once
    sig_of = write_batch(landing, "d-unsigned", [sample(ts="2026-02-01T00:02:00Z")])
    late = ingest_gpu_telemetry(con, landing, registry, chunk_bytes=1)
    assert sig_of.with_name(sig_of.name + ".sig").exists()
    assert (late.files_read, late.rows_loaded, late.rows_quarantined) == (1, 1, 0)
    samples, quarantine, ledger = _tables(con)
    assert (len(samples), len(quarantine), len(ledger)) == (6, 5, 6)
    assert all("d-unsigned" not in q[1] for q in quarantine)


def test_a_failing_chunk_keeps_the_committed_ones_and_a_rerun_finishes(
        con, registry, landing, monkeypatch):
    import ingestion.nvml.ingest as ingest

    _fill(landing)
    real = ingest._load_chunk
    calls = []

    def fail_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(ingest, "_load_chunk", fail_third)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest.ingest_gpu_telemetry(con, landing, registry, chunk_bytes=1)
    assert [r[1].rsplit("/", 1)[1] for r in con.execute(LEDGER).fetchall()] == [
        "a-good.jsonl", "b-mixed.jsonl"]
    monkeypatch.setattr(ingest, "_load_chunk", real)
    rest = ingest.ingest_gpu_telemetry(con, landing, registry, chunk_bytes=1)
    assert (rest.files_read, rest.files_skipped) == (4, 2)
    assert [len(t) for t in _tables(con)] == [5, 6, 5]
