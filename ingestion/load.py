"""One call that ingests every landing source of a data directory."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb

from ingestion.invoices.reader import ingest_invoices
from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.registry import Registry
from ingestion.robots.reader import ingest_robot_telemetry
from ingestion.stats import IngestStats


def _landing_root(data_dir: str | Path) -> str:
    root = str(data_dir).rstrip("/")
    return root if root.endswith("/landing") or root == "landing" else root + "/landing"


def ingest_landing(con: duckdb.DuckDBPyConnection, data_dir: str | Path, registry: Registry,
                   dates: Iterable[date] | None = None) -> dict[str, IngestStats]:
    """Ingest invoices, GPU telemetry and robot telemetry from `<data_dir>/landing` (a
    data directory, or the landing folder itself). `dates` limits the delivery folders."""
    landing = _landing_root(data_dir)
    wanted = None if dates is None else list(dates)
    return {
        "invoices": ingest_invoices(con, landing, registry, wanted),
        "gpu_telemetry": ingest_gpu_telemetry(con, landing, registry, wanted),
        "robot_telemetry": ingest_robot_telemetry(con, landing, registry, wanted),
    }
