"""The telemetry lake: one Parquet file (zstd) of verified, validated, deduplicated GPU
samples per sample day and node, `<root>/day=YYYY-MM-DD/node=<node_id>/samples.parquet`,
under a root that is a local path or an fsspec URL (`s3://bucket/lake` through s3fs).

A partition is replaced whole (written beside it, then moved over it), so a reader sees
the old file or the new one. The node of a sample is the node its GPU is registered to,
so every copy of a (GPU, ts) sample lands in one partition whatever batch delivered it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from aidnav.config import load_settings

LAKE_URL_ENV = "AIDNAV_LAKE_URL"  # read by aidnav.config
PARTITION_FILE = "samples.parquet"
# where a run's check tasks leave the samples of each partition for its reduce tasks, and
# their quarantine rows for the warehouse (`_incoming/<run>/quarantine/<task>.parquet`)
INCOMING = "_incoming"
QUARANTINE_FRAGMENTS = "quarantine"
COMPRESSION = "zstd"

# the columns of a valid sample, as ingestion.nvml.ingest loads them (raw.gpu_samples)
SAMPLE_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("line", pa.int32()), ("batch_id", pa.string()),
    ("node_id", pa.string()), ("gpu_uuid", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
    ("gpu_util_pct", pa.float64()), ("mem_util_pct", pa.float64()),
    ("mem_used_mib", pa.float64()), ("power_w", pa.float64()),
    ("energy_mj", pa.decimal128(38, 6)), ("temp_c", pa.float64()),
    ("sm_clock_mhz", pa.float64()), ("xid_errors", pa.int32()),
    ("ecc_dbe_count", pa.int32()), ("serial", pa.string()), ("pci_bus_id", pa.string()),
])


def lake_url() -> str:
    """The configured lake: `AIDNAV_LAKE_URL`, else `<data dir>/lake` (aidnav.config)."""
    return load_settings().lake_url


class Lake:
    """A lake root, local path or fsspec URL."""

    def __init__(self, root: str | Path):
        self.url = str(root)
        self.fs, path = fsspec.core.url_to_fs(self.url)
        self.root = path.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def partition_path(self, node_id: str, day: date) -> str:
        return f"{self.root}/day={day.isoformat()}/node={node_id}/{PARTITION_FILE}"

    def read(self, node_id: str, day: date) -> pa.Table | None:
        """The partition's samples, or None when it has none yet."""
        path = self.partition_path(node_id, day)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return pq.read_table(fh).cast(SAMPLE_SCHEMA)

    def write(self, node_id: str, day: date, samples: pa.Table) -> None:
        """Replace the partition with `samples` (SAMPLE_SCHEMA, in the order given)."""
        path = self.partition_path(node_id, day)
        buf = pa.BufferOutputStream()
        pq.write_table(samples.cast(SAMPLE_SCHEMA), buf, compression=COMPRESSION)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        self.fs.pipe_file(tmp, buf.getvalue().to_pybytes())
        self.fs.mv(tmp, path)

    def fragment_path(self, run_id: str, node_id: str, day: date, task_no: int) -> str:
        return (f"{self.root}/{INCOMING}/{run_id}/day={day.isoformat()}/node={node_id}/"
                f"{task_no}.arrow")

    def write_fragment(self, run_id: str, node_id: str, day: date, task_no: int,
                       samples: pa.Table) -> None:
        """One check task's samples of a partition, for the run's reduce task (an Arrow
        IPC file, LZ4: written and read at memory speed, gone when the run ends)."""
        path = self.fragment_path(run_id, node_id, day, task_no)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with self.fs.open(path, "wb") as fh, \
                pa.ipc.new_file(fh, SAMPLE_SCHEMA, options=options) as writer:
            writer.write_table(samples.cast(SAMPLE_SCHEMA))

    def read_fragment(self, run_id: str, node_id: str, day: date, task_no: int) -> pa.Table:
        with self.fs.open(self.fragment_path(run_id, node_id, day, task_no), "rb") as fh:
            return pa.ipc.open_file(fh).read_all()

    def quarantine_fragment_path(self, run_id: str, task_no: int) -> str:
        return f"{self.root}/{INCOMING}/{run_id}/{QUARANTINE_FRAGMENTS}/{task_no}.parquet"

    def write_quarantine_fragment(self, run_id: str, task_no: int, rows: pa.Table) -> str:
        """One check task's quarantine rows, for the warehouse to insert without holding
        them (Parquet, which DuckDB reads as a stream); returns the file's path."""
        path = self.quarantine_fragment_path(run_id, task_no)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as fh:
            pq.write_table(rows, fh, compression=COMPRESSION)
        return path

    def remove_run(self, run_id: str) -> None:
        """Remove what run `run_id` left under `_incoming/` (nothing when it left none)."""
        path = f"{self.root}/{INCOMING}/{run_id}"
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def remove_all_runs(self) -> list[str]:
        """Remove everything under `_incoming/` (only when no run of this lake can be
        alive: a process killed outright leaves its run's folder behind); returns the run
        ids removed."""
        path = f"{self.root}/{INCOMING}"
        if not self.fs.exists(path):
            return []
        runs = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False))
        self.fs.rm(path, recursive=True)
        return runs

    def partitions(self) -> list[tuple[str, date]]:
        """(node_id, day) of every partition, sorted by day then node."""
        out = []
        for p in self.fs.glob(f"{self.root}/day=*/node=*/{PARTITION_FILE}"):
            day_dir, node_dir = p.rstrip("/").split("/")[-3:-1]
            out.append((node_dir.removeprefix("node="),
                        date.fromisoformat(day_dir.removeprefix("day="))))
        return sorted(out, key=lambda k: (k[1], k[0]))

    def parquet_glob(self, con: duckdb.DuckDBPyConnection | None = None) -> str:
        """The glob of every partition file, as DuckDB's read_parquet opens it (a remote
        root through the fsspec filesystem, registered on `con`)."""
        return self.duckdb_path(f"{self.root}/day=*/node=*/{PARTITION_FILE}", con)

    def day_globs(self, days: Iterable[date],
                  con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
        """The glob of each day's partition files, as `parquet_glob`, for the days of
        `days` that have at least one partition (read_parquet refuses a glob that matches
        nothing)."""
        globs = []
        for day in days:
            glob = f"{self.root}/day={day.isoformat()}/node=*/{PARTITION_FILE}"
            if self.fs.glob(glob):
                globs.append(self.duckdb_path(glob, con))
        return globs

    def duckdb_path(self, path: str, con: duckdb.DuckDBPyConnection | None = None) -> str:
        """A path (or glob) of this lake as DuckDB opens it: a remote one through the
        fsspec filesystem, registered on `con`."""
        if self.is_local:
            return path
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        if con is not None and not con.filesystem_is_registered(protocol):
            con.register_filesystem(self.fs)
        return self.fs.unstrip_protocol(path)
