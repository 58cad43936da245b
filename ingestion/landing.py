"""The landing area: listing delivery files through fsspec, the file ledger that makes a
re-ingestion a no-op, and the quarantine writer shared by every landing source."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import fsspec
import numpy as np
import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem

from ingestion.bounds import RECORD_PREVIEW_CHARS
from ingestion.compression import (ContentTooLarge, CorruptStream, codec_of, decompress_capped,
                                   is_jsonl_delivery)


@dataclass(frozen=True, slots=True)  # slots: a large day lists hundreds of thousands
class LandingFile:
    """One delivered file. `rel` is its path relative to the landing root (posix, e.g.
    `gpu_telemetry/2026-02-08/node-n2/node-n2-2026-02-08.jsonl`); `path` is the path the
    filesystem understands; `parts` are the folders of `rel` after the source folder;
    `size` and `mtime` (seconds since the epoch; None where the filesystem gives none) are
    what the listing saw: used to cut work and to tell a ledgered file unchanged, never to
    decide whether a file may be read (`Landing.refusal` looks again)."""

    rel: str
    path: str
    size: int = field(default=0, compare=False)
    mtime: float | None = field(default=None, compare=False)

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
        return self._found(base, folder_depth, dates, date_index)

    def folders(self, source: str, folder: str = "") -> list[str]:
        """The names of the folders right under `<root>/<source>/<folder>/`, sorted."""
        base = f"{self.root}/{source}" + (f"/{folder}" if folder else "")
        if not self.fs.isdir(base):
            return []
        return sorted(e["name"].rstrip("/").rsplit("/", 1)[-1]
                      for e in self.fs.ls(base, detail=True) if e.get("type") == "directory")

    def list_folder(self, source: str, folder: str, folder_depth: int) -> list[LandingFile]:
        """`list` of the files under `<root>/<source>/<folder>/` only (one delivery folder
        of a source whose first folder is the delivery date), sorted by relative path."""
        return self._found(f"{self.root}/{source}/{folder}", folder_depth, None, 0)

    def _found(self, base: str, folder_depth: int, dates: Iterable[date] | None,
               date_index: int) -> list[LandingFile]:
        wanted = None if dates is None else {d.isoformat() for d in dates}
        out = []
        for p, info in self.fs.find(base, detail=True).items():
            p = p.rstrip("/")
            rel = p[len(self.root) + 1:] if p.startswith(self.root + "/") else p
            parts = PurePosixPath(rel).parts
            if len(parts) != folder_depth + 2:
                continue
            if wanted is not None and parts[1 + date_index] not in wanted:
                continue
            out.append(LandingFile(rel=rel, path=p, size=int(info.get("size") or 0),
                                   mtime=_mtime(info)))
        return sorted(out, key=lambda f: f.rel)

    def refusal(self, f: LandingFile | str, max_bytes: int) -> Refusal | None:
        """Why the file may not be read (None when it may): a link, a file whose real path
        is outside the landing root, anything but a regular file, or more than `max_bytes`.
        Decided from its metadata only; the content is not opened."""
        path = f.path if isinstance(f, LandingFile) else f
        if self.is_local:
            try:
                st = os.lstat(path)
            except OSError as e:
                return Refusal(f"cannot be inspected ({e.strerror}): expected a readable "
                               "regular file", "refused:unreadable")
            if stat.S_ISLNK(st.st_mode):
                return Refusal(f"a symbolic link (to {os.readlink(path)!r}): expected a "
                               "regular file inside the landing zone; links are not followed",
                               "refused:link")
            real = os.path.realpath(path)
            root = os.path.realpath(self.root)
            if not real.startswith(root.rstrip(os.sep) + os.sep):
                return Refusal(f"resolves to {real}, outside the landing zone {root}: expected "
                               "a regular file inside it", "refused:outside")
            if not stat.S_ISREG(st.st_mode):
                return Refusal(f"not a regular file ({_file_kind(st.st_mode)}): expected a "
                               "regular file", "refused:special")
            size = st.st_size
        else:
            info = self.fs.info(path)
            if info.get("islink") or info.get("type") != "file":
                return Refusal(f"not a regular file ({info.get('type')}): expected a regular "
                               "file", "refused:special")
            size = int(info.get("size") or 0)
        if size > max_bytes:
            return Refusal(f"file of {size} bytes: expected at most {max_bytes} bytes; "
                           "refused unread", f"refused:size:{size}")
        return None

    def read_bytes(self, f: LandingFile | str, max_bytes: int | None = None) -> bytes:
        """The file's bytes. With `max_bytes`, at most that many are read (more raises
        FileRefused), and a local file is opened without following a link and must be a
        regular file when opened, whatever it was when it was listed."""
        path = f.path if isinstance(f, LandingFile) else f
        if max_bytes is not None and self.is_local:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise FileRefused(Refusal("not a regular file when opened: expected a "
                                              "regular file", "refused:special"))
                with os.fdopen(os.dup(fd), "rb") as fh:
                    data = fh.read(max_bytes + 1)
            finally:
                os.close(fd)
        else:
            with self.fs.open(path, "rb") as fh:
                data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise FileRefused(Refusal(f"file grew past {max_bytes} bytes while read: expected "
                                      f"at most {max_bytes} bytes", "refused:size:grew"))
        return data

    def read_or_refuse(self, f: LandingFile | str,
                       max_bytes: int) -> tuple[bytes, Refusal | None]:
        """(the file's bytes, None), or (b"", why it may not be read): `refusal` first, from
        the metadata alone, then `read_bytes` with the same limit. Every reader of the
        landing zone goes through here."""
        refusal = self.refusal(f, max_bytes)
        if refusal is not None:
            return b"", refusal
        try:
            return self.read_bytes(f, max_bytes), None
        except FileRefused as e:
            return b"", e.refusal

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


@dataclass(frozen=True)
class Refusal:
    """A landing file refused whole, unread: `reason` goes to its quarantine row, `marker`
    to the ledger in place of the sha256, so that the same refusal is not repeated."""

    reason: str
    marker: str


class FileRefused(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.reason)
        self.refusal = refusal


def is_telemetry_delivery(f: LandingFile | str) -> bool:
    """Whether a telemetry file is a delivery: `.jsonl`, `.jsonl.gz` or `.jsonl.zst` (its
    `.sig` and any other name are not)."""
    return is_jsonl_delivery(PurePosixPath(f.rel if isinstance(f, LandingFile) else f).name)


def is_refusal(ledger_value: str) -> bool:
    """Whether the ledger's value for a file (`ledger`) is a refusal's marker, not a sha256."""
    return ledger_value.startswith("refused:")


def read_when_ledgered(ledger_value: str) -> bool:
    """Whether the ledger's value for a file (`ledger`) says its bytes were read: a sha256,
    or the marker of a delivery refused for its content. A file refused from its metadata
    alone (a link, a pipe, too large, outside the zone) was never read."""
    return (not is_refusal(ledger_value)
            or ledger_value.startswith(content_refusal_marker("")))


def content_refusal_marker(sha256: str) -> str:
    """The ledger marker of a compressed delivery refused for its content (too large once
    decompressed, or not a valid stream): tied to the delivered bytes, so that the next run
    skips the same file without decompressing it."""
    return f"refused:content:{sha256}"


def delivery_content(rel: str, data: bytes, max_bytes: int) -> bytes:
    """The JSON Lines bytes of a telemetry delivery whose delivered bytes are `data`: the
    bytes themselves for `.jsonl`, decompressed for `.jsonl.gz` / `.jsonl.zst`. At most
    `max_bytes` are decompressed: a stream that expands further, or that is truncated or
    invalid, raises FileRefused (decompression stops at the limit)."""
    codec = codec_of(PurePosixPath(rel).name)
    if codec == "none":
        return data
    try:
        return decompress_capped(data, codec, max_bytes)
    except ContentTooLarge:
        raise FileRefused(Refusal(
            f"{codec} file of {len(data)} bytes that decompresses to more than {max_bytes} "
            f"bytes: expected at most {max_bytes} bytes once decompressed; decompression "
            "stopped at the limit", content_refusal_marker(sha256_hex(data)))) from None
    except CorruptStream as e:
        raise FileRefused(Refusal(
            f"not a valid {codec} stream ({e}): expected a complete {codec}-compressed "
            "JSON Lines file", content_refusal_marker(sha256_hex(data)))) from None


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return f"mode {oct(mode)}"


def refuse_files(con: duckdb.DuckDBPyConnection, source: str,
                 refused: Sequence[tuple[str, Refusal]]) -> None:
    """One quarantine row (line 0: no line was read) and one ledger entry, the refusal's
    marker in place of a sha256, per file refused whole: the same refusal is not repeated
    on the next run, and the file is no longer new to the late-data sensor."""
    quarantine(con, source, [Rejection(rel, 0, "", f"file refused: {r.reason}", "")
                             for rel, r in refused])
    record_files(con, source, [(rel, r.marker, 0, 1) for rel, r in refused])


def long_lines(data: bytes, max_bytes: int) -> list[tuple[int, int, int]]:
    """(line number, start, end) of every line longer than `max_bytes` (newline excluded)."""
    if len(data) <= max_bytes:
        return []
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.append(np.flatnonzero(arr == 10), len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    long = np.flatnonzero(ends - starts > max_bytes)
    return [(int(i) + 1, int(starts[i]), int(ends[i])) for i in long]


def drop_long_lines(data: bytes, rel: str, max_bytes: int) -> tuple[bytes, list[Rejection]]:
    """The bytes with every line over `max_bytes` emptied (line numbers kept), and a
    Rejection for each such line, quoting its start."""
    found = long_lines(data, max_bytes)
    if not found:
        return data, []
    out, bad, pos = [], [], 0
    for line, start, end in found:
        out.append(data[pos:start])
        pos = end
        bad.append(Rejection(rel, line, "", f"line of {end - start} bytes: expected at most "
                             f"{max_bytes} bytes a line",
                             data[start:start + RECORD_PREVIEW_CHARS].decode("utf-8", "replace")))
    out.append(data[pos:])
    return b"".join(out), bad


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mtime(info: dict) -> float | None:
    """A listed file's modification time: a local file's `mtime`, an object store's
    `LastModified` (s3fs) or `last_modified`; None when the listing has none."""
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def ledger_rows_of(con: duckdb.DuckDBPyConnection, source: str, files: Sequence[str]
                   ) -> tuple[dict[str, str], dict[str, tuple[int, float]]]:
    """The ledger's rows of `files` (relative paths) of `source` only: path -> sha256, and
    path -> (size, modification time) of those whose read was recorded with their listing
    (`record_file_stats`). What a run needs of the ledger for the files it listed, without
    holding every file ever ingested."""
    con.register("_listed_files", pa.table({"file": pa.array(list(files), pa.string())}))
    try:
        rows = con.execute(
            "select f.file, f.sha256, s.size_bytes, s.modified_at "
            "from raw.ingested_files f semi join _listed_files l on l.file = f.file "
            "left join raw.ingested_file_stats s on s.source = f.source and s.file = f.file "
            "where f.source = ?", [source]).fetchall()
    finally:
        con.unregister("_listed_files")
    return ({f: sha for f, sha, _, _ in rows},
            {f: (int(n), float(t)) for f, _, n, t in rows if n is not None})


FILE_STATS_SCHEMA = pa.schema([("file", pa.string()), ("size_bytes", pa.int64()),
                               ("modified_at", pa.float64())])


def file_stats(files: Sequence[LandingFile]) -> pa.Table:
    """The listed size and modification time of `files` (FILE_STATS_SCHEMA)."""
    return pa.table([pa.array([f.rel for f in files], pa.string()),
                     pa.array([f.size for f in files], pa.int64()),
                     pa.array([f.mtime for f in files], pa.float64())], schema=FILE_STATS_SCHEMA)


def record_file_stats(con: duckdb.DuckDBPyConnection, source: str,
                      files: Sequence[LandingFile] | pa.Table) -> None:
    """Record the listed size and modification time of `files` (LandingFiles, or their
    `file_stats`), read by this run; a file listed without a time is not recorded."""
    stats = files if isinstance(files, pa.Table) else file_stats(files)
    if not stats.num_rows:
        return
    con.register("_file_stats", stats)
    try:
        con.execute("insert or replace into raw.ingested_file_stats "
                    "select ?, file, size_bytes, modified_at from _file_stats "
                    "where modified_at is not null", [source]).fetchall()
    finally:
        con.unregister("_file_stats")


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
    """Copy the quarantine rows of `files` into JSON Lines files (UTF-8, one object per
    row: file, line, field, reason, record) under `<quarantine_root>/<relative file>.jsonl`
    (the relative path starts with the source folder), for people who read folders.

    One query, its rows serialised by DuckDB and streamed in file order: a delivery
    refused whole is a row per line, and a fleet-wide refusal is one scan of
    raw.quarantine rather than one per file, in memory a batch of rows at a time."""
    wanted = sorted(set(files))
    if not wanted:
        return
    fs, root = fsspec.core.url_to_fs(str(quarantine_root))
    reader = con.sql(
        "select file, to_json({'file': file, 'line': line, 'field': field, "
        "'reason': reason, 'record': record}) as row from raw.quarantine "
        "where source = $source and file in (select unnest($files)) "
        "order by file, line, field, reason",
        params={"source": source, "files": wanted}).to_arrow_reader(QUARANTINE_BATCH_ROWS)
    target, fh = "", None

    def finish() -> None:  # the file written whole: under its name
        fh.close()
        fs.mv(f"{target}.tmp", target)

    try:
        for batch in reader:
            names, rows = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            for file, group in itertools.groupby(zip(names, rows), key=itemgetter(0)):
                path = f"{root.rstrip('/')}/{file}.jsonl"
                if path != target:
                    if fh is not None:
                        finish()
                        fh = None
                    target = path
                    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                    fh = fs.open(f"{target}.tmp", "wb")
                fh.write("".join(row + "\n" for _, row in group).encode("utf-8"))
        if fh is not None:
            finish()
            fh = None
    finally:
        if fh is not None:  # failed while writing a file: its half-written .tmp goes
            fh.close()
            fs.rm(f"{target}.tmp")


# rows of raw.quarantine held at once while they are copied to the quarantine folder
QUARANTINE_BATCH_ROWS = 50_000


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
