"""The ledger's rows of the files a run lists, read from the warehouse without the rest."""

from __future__ import annotations

from ingestion.landing import LandingFile, ledger_rows_of, record_file_stats, record_files
from ingestion.warehouse import connect


def test_only_the_listed_files_rows_of_the_source_come_back(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    record_files(con, "gpu_telemetry", [("a.jsonl", "aa" * 32, 3, 0),
                                        ("b.jsonl", "refused:link", 0, 1),
                                        ("c.jsonl", "cc" * 32, 1, 0)])
    record_files(con, "robot_telemetry", [("a.jsonl", "dd" * 32, 1, 0)])
    # only a.jsonl's read was recorded with its listing
    record_file_stats(con, "gpu_telemetry", [LandingFile("a.jsonl", "/z/a.jsonl", 120, 7.5),
                                             LandingFile("x.jsonl", "/z/x.jsonl", 9, 1.0)])
    seen, unchanged = ledger_rows_of(con, "gpu_telemetry", ["a.jsonl", "b.jsonl", "new.jsonl"])
    assert seen == {"a.jsonl": "aa" * 32, "b.jsonl": "refused:link"}
    # x.jsonl has stats but no ledger row: a stats row alone says nothing
    assert unchanged == {"a.jsonl": (120, 7.5)}
    assert ledger_rows_of(con, "gpu_telemetry", []) == ({}, {})
    con.close()
