"""The summary every ingestion function returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestStats:
    """What one ingestion call did: files read or skipped (already in the ledger), rows
    loaded into the raw table and rows sent to quarantine, and the wall time it took."""

    source: str
    files_read: int
    files_skipped: int
    rows_loaded: int
    rows_quarantined: int
    seconds: float
