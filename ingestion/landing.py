"""The landing area: listing delivery files through fsspec, the file ledger that makes a
re-ingestion a no-op, and the quarantine writer shared by every landing source."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import fsspec
import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem


@dataclass(frozen=True)
class LandingFile:
    """One delivered file. `rel` is its path relative to the landing root (posix, e.g.
    `gpu_telemetry/2026-02-08/node-n2/node-n2-2026-02-08.jsonl`); `path` is the path the
    filesystem understands; `parts` are the folders of `rel` after the source folder."""

    rel: str
    path: str

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.rel).parts


class Landing:
    """A landing root, local path or fsspec URL."""

    def __init__(self, root: str | Path):
        self.root_url = str(root)
        self.fs, root_path = fsspec.core.url_to_fs(self.root_url)
        self.root = root_path.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def list(self, source: str, folder_depth: int, dates: Iterable[date] | None,
             date_index: int) -> list[LandingFile]:
        """Files under `<root>/<source>/`, sorted by relative path. `folder_depth` is the
        number of folders between the source folder and the file; `date_index` says which
        of them is the delivery date; with `dates`, only those delivery folders are read."""
        base = f"{self.root}/{source}"
        if not self.fs.exists(base):
            return []
        wanted = None if dates is None else {d.isoformat() for d in dates}
        out = []
        for p in self.fs.find(base):
            p = p.rstrip("/")
            rel = p[len(self.root) + 1:] if p.startswith(self.root + "/") else p
            parts = PurePosixPath(rel).parts
            if len(parts) != folder_depth + 2:
                continue
            if wanted is not None and parts[1 + date_index] not in wanted:
                continue
            out.append(LandingFile(rel=rel, path=p))
        return sorted(out, key=lambda f: f.rel)

    def read_bytes(self, f: LandingFile | str) -> bytes:
        path = f.path if isinstance(f, LandingFile) else f
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def duckdb_path(self, con: duckdb.DuckDBPyConnection, f: LandingFile) -> str:
        """A path DuckDB can open: the local path, or the URL through the fsspec
        filesystem registered on the connection."""
        if self.is_local:
            return f.path
        if not con.filesystem_is_registered(self.fs.protocol if isinstance(self.fs.protocol, str)
                                            else self.fs.protocol[0]):
            con.register_filesystem(self.fs)
        return self.fs.unstrip_protocol(f.path)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ledger(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    """Relative file path -> sha256 of every file of `source` already ingested."""
    rows = con.execute("select file, sha256 from raw.ingested_files where source = ?",
                       [source]).fetchall()
    return {f: h for f, h in rows}


def record_files(con: duckdb.DuckDBPyConnection, source: str,
                 rows: Sequence[tuple[str, str, int, int]]) -> None:
    """Add (file, sha256, rows_loaded, rows_quarantined) to the ledger."""
    if not rows:
        return
    files, shas, loaded, quarantined = (list(c) for c in zip(*rows))
    tbl = pa.table({"source": pa.array([source] * len(files), pa.string()),
                    "file": pa.array(files, pa.string()), "sha256": pa.array(shas, pa.string()),
                    "rows_loaded": pa.array(loaded, pa.int32()),
                    "rows_quarantined": pa.array(quarantined, pa.int32())})
    con.register("_ledger_rows", tbl)
    try:
        con.execute("insert or replace into raw.ingested_files select *, now() from _ledger_rows").fetchall()
    finally:
        con.unregister("_ledger_rows")


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int
    field: str
    reason: str
    record: str


def quarantine(con: duckdb.DuckDBPyConnection, source: str,
               rejections: Sequence[Rejection]) -> None:
    if not rejections:
        return
    tbl = pa.table({"source": pa.array([source] * len(rejections), pa.string()),
                    "file": pa.array([r.file for r in rejections], pa.string()),
                    "line": pa.array([r.line for r in rejections], pa.int32()),
                    "field": pa.array([r.field for r in rejections], pa.string()),
                    "reason": pa.array([r.reason for r in rejections], pa.string()),
                    "record": pa.array([r.record for r in rejections], pa.string())})
    con.register("_quarantine_rows", tbl)
    try:
        con.execute("insert into raw.quarantine select *, now() from _quarantine_rows").fetchall()
    finally:
        con.unregister("_quarantine_rows")


def write_quarantine_files(con: duckdb.DuckDBPyConnection, source: str, files: Iterable[str],
                           quarantine_root: str | Path) -> None:
    """Copy the quarantine rows of `files` into JSON Lines files under
    `<quarantine_root>/<relative file>.jsonl` (the relative path starts with the source
    folder), for people who read folders."""
    fs, root = fsspec.core.url_to_fs(str(quarantine_root))
    for file in sorted(set(files)):
        rows = con.execute(
            "select line, field, reason, record from raw.quarantine "
            "where source = ? and file = ? order by line, field", [source, file]).fetchall()
        if not rows:
            continue
        target = f"{root.rstrip('/')}/{file}.jsonl"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        tmp = target + ".tmp"
        with fs.open(tmp, "w") as fh:
            for line, field, reason, record in rows:
                fh.write(json.dumps({"file": file, "line": line, "field": field,
                                     "reason": reason, "record": record}) + "\n")
        fs.mv(tmp, target)


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
