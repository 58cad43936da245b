"""The quarantine folder for people: every file's rows, whole and in line order, written
from one streamed query however the rows fall across its batches."""

from __future__ import annotations

import json

import pytest

from ingestion import landing
from ingestion.landing import Rejection, quarantine, write_quarantine_files
from ingestion.warehouse import connect


@pytest.mark.parametrize("batch_rows", [1, 3, 50_000])
def test_each_file_gets_exactly_its_rows_in_line_order(tmp_path, monkeypatch, batch_rows):
    monkeypatch.setattr(landing, "QUARANTINE_BATCH_ROWS", batch_rows)
    con = connect(":memory:")
    a, b, c = (f"gpu_telemetry/2026-03-01/node-0000/{n}.jsonl" for n in "abc")
    rows = [Rejection(b, 2, "ts", "not a time", '{"ts": "jamais"}'),
            Rejection(a, 7, "", "signature", "ligne 7 — « été »"),
            Rejection(b, 1, "gpu_uuid", "unknown GPU", '{"gpu_uuid": "x"}'),
            Rejection(a, 3, "", "signature", 'line "3"\twith a tab'),
            Rejection(c, 1, "", "other", "not asked for")]
    quarantine(con, "gpu_telemetry", rows)
    quarantine(con, "robot_telemetry", [Rejection(a, 1, "", "another source", "")])
    write_quarantine_files(con, "gpu_telemetry", [b, a, a], tmp_path / "q")

    def read(rel):
        return [json.loads(x) for x in (tmp_path / "q" / f"{rel}.jsonl")
                .read_text(encoding="utf-8").splitlines()]

    assert read(a) == [
        {"file": a, "line": 3, "field": "", "reason": "signature", "record": 'line "3"\twith a tab'},
        {"file": a, "line": 7, "field": "", "reason": "signature", "record": "ligne 7 — « été »"}]
    assert read(b) == [
        {"file": b, "line": 1, "field": "gpu_uuid", "reason": "unknown GPU",
         "record": '{"gpu_uuid": "x"}'},
        {"file": b, "line": 2, "field": "ts", "reason": "not a time", "record": '{"ts": "jamais"}'}]
    written = sorted(p.relative_to(tmp_path / "q").as_posix() for p in (tmp_path / "q").rglob("*")
                     if p.is_file())
    assert written == [f"{a}.jsonl", f"{b}.jsonl"]  # no .tmp left, nothing not asked for


def test_a_call_writes_the_files_it_read_and_not_those_of_earlier_calls(tmp_path):
    """`ingest_source` writes the rows of the files whose ledger row it wrote: a new batch
    with a bad line; not an earlier call's file, even when that file's rows in the folder
    were since removed."""
    from ingestion.load import ingest_source
    from tests.lake.lake_fixtures import NOW, REGISTRY, sample, write_batch
    from ingestion.lake.ingest import ingest_gpu_lake

    def loader(con, landing_dir, registry, dates):
        return ingest_gpu_lake(con, landing_dir, registry, dates, lake=str(tmp_path / "lake"),
                               now=NOW, scheduler="")

    data, q = tmp_path / "data", tmp_path / "q"
    bad = sample("2026-03-01T00:01:00Z", 1, 5)
    bad["temp_c"] = 1000
    first = write_batch(data / "landing", "2026-03-01", 0, "first",
                        [sample("2026-03-01T00:00:00Z", 0, 5), bad])
    con = connect(tmp_path / "w.duckdb")
    ingest_source(con, "gpu_telemetry", data, REGISTRY, quarantine_dir=q, loader=loader)
    first_out = q / f"{first}.jsonl"
    assert [json.loads(x)["line"] for x in first_out.read_text().splitlines()] == [2]
    first_out.unlink()

    # a second call: a new batch with a bad line, the first one unchanged
    second = write_batch(data / "landing", "2026-03-02", 0, "second", [bad])
    ingest_source(con, "gpu_telemetry", data, REGISTRY, quarantine_dir=q, loader=loader)
    assert (q / f"{second}.jsonl").is_file() and not first_out.exists()

    con.close()
