"""Ingestion: the registry, the landing sources (invoices, GPU and robot telemetry) and
the chain events, each validated into the raw schema of `ingestion.warehouse`."""

from ingestion.stats import IngestStats

__all__ = ["IngestStats", "ingest_landing"]


def __getattr__(name: str):
    if name == "ingest_landing":
        from ingestion.load import ingest_landing
        return ingest_landing
    raise AttributeError(name)
