"""Ingesting the landing sources of a data directory, one source or all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import duckdb

from ingestion.invoices.reader import ingest_invoices
from ingestion.landing import write_quarantine_files
from ingestion.lake.ingest import ingest_gpu_lake
from ingestion.registry import Registry
from ingestion.robots.reader import ingest_robot_telemetry
from ingestion.stats import IngestStats


def _landing_root(data_dir: str | Path) -> str:
    root = str(data_dir).rstrip("/")
    return root if root.endswith("/landing") or root == "landing" else root + "/landing"


# the landing sources, in the order a day loads them, and the loader of each
LOADERS: dict[str, Callable[..., IngestStats]] = {
    "invoices": ingest_invoices,
    "gpu_telemetry": ingest_gpu_lake,  # samples to the lake, daily figures to the warehouse
    "robot_telemetry": ingest_robot_telemetry,
}


def ingest_source(con: duckdb.DuckDBPyConnection, source: str, data_dir: str | Path,
                  registry: Registry, dates: Iterable[date] | None = None,
                  quarantine_dir: str | Path | None = None,
                  loader: Callable[..., IngestStats] | None = None) -> IngestStats:
    """Ingest one landing source of `<data_dir>/landing` (or of the landing folder itself)
    with `loader` (default: the source's in LOADERS).
    With `quarantine_dir` (e.g. `<data_dir>/quarantine`), the records quarantined from the
    files this call read (new, or changed since ledgered) are also written, for people,
    as JSON Lines under
    `<quarantine_dir>/<source>/.../<file>.jsonl` (raw.quarantine is the reference)."""
    # the files this call reads are those whose ledger row it writes (a ledger row is
    # stamped with its transaction's start): found in the warehouse, not by holding every
    # file ever ledgered
    [(since,)] = con.execute("select now()").fetchall()
    stats = (loader or LOADERS[source])(con, _landing_root(data_dir), registry,
                                         None if dates is None else list(dates))
    if quarantine_dir is not None:
        files = [f for (f,) in con.execute(
            "select file from raw.ingested_files where source = ? and rows_quarantined > 0 "
            "and loaded_at >= ?", [source, since]).fetchall()]
        if files:
            write_quarantine_files(con, source, files, quarantine_dir)
    return stats


def ingest_landing(con: duckdb.DuckDBPyConnection, data_dir: str | Path, registry: Registry,
                   dates: Iterable[date] | None = None,
                   quarantine_dir: str | Path | None = None) -> dict[str, IngestStats]:
    """Ingest every landing source (`ingest_source`), invoices first."""
    wanted = None if dates is None else list(dates)
    return {source: ingest_source(con, source, data_dir, registry, wanted, quarantine_dir)
            for source in LOADERS}
