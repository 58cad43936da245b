"""One call that ingests every landing source of a data directory."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb

from ingestion.invoices.reader import ingest_invoices
from ingestion.landing import write_quarantine_files
from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.registry import Registry
from ingestion.robots.reader import ingest_robot_telemetry
from ingestion.stats import IngestStats


def _landing_root(data_dir: str | Path) -> str:
    root = str(data_dir).rstrip("/")
    return root if root.endswith("/landing") or root == "landing" else root + "/landing"


def ingest_landing(con: duckdb.DuckDBPyConnection, data_dir: str | Path, registry: Registry,
                   dates: Iterable[date] | None = None,
                   quarantine_dir: str | Path | None = None) -> dict[str, IngestStats]:
    """Ingest invoices, GPU telemetry and robot telemetry from `<data_dir>/landing` (a
    data directory, or the landing folder itself). `dates` limits the delivery folders.
    With `quarantine_dir` (e.g. `<data_dir>/quarantine`), the records quarantined from
    newly read files are also written, for people, as JSON Lines under
    `<quarantine_dir>/<source>/<file>.jsonl` (raw.quarantine is the reference)."""
    landing = _landing_root(data_dir)
    wanted = None if dates is None else list(dates)
    before = {r[0] for r in con.execute("select file from raw.ingested_files").fetchall()}
    stats = {
        "invoices": ingest_invoices(con, landing, registry, wanted),
        "gpu_telemetry": ingest_gpu_telemetry(con, landing, registry, wanted),
        "robot_telemetry": ingest_robot_telemetry(con, landing, registry, wanted),
    }
    new = con.execute("select source, file from raw.ingested_files where rows_quarantined > 0"
                      ).fetchall()
    if quarantine_dir is None:
        return stats
    for source in stats:
        files = [f for s, f in new if s == source and f not in before]
        if files:
            write_quarantine_files(con, source, files, quarantine_dir)
    return stats
