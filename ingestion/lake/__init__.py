"""The GPU telemetry lake: verified, validated, deduplicated samples as Parquet partitioned
by sample day and node (`lake.py`), written by work split per (node, day) that runs on
Dask, in-process or on a cluster (`engine.py`)."""
