"""Hand JSON Lines files to DuckDB as one table of (file_idx, line, raw), so that a
single vectorised SQL pass parses, validates and routes every line. The bytes are the
ones already read (and hashed) in Python, so what is checked is exactly what is loaded.

The lines are Arrow string views over the file bytes (offsets found with numpy, no copy
and no Python object per line), in chunks that DuckDB scans in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa

from ingestion.landing import Rejection

TS_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})$"
_CHUNK_BYTES = 8 << 20


def _valid_utf8(data: bytes, rel: str) -> tuple[bytes, list[Rejection]]:
    """The file bytes with each line that is not valid UTF-8 blanked (same line count),
    and a Rejection for each such line."""
    try:
        data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        pass
    out, bad = [], []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
            out.append(raw)
        except UnicodeDecodeError as e:
            bad.append(Rejection(rel, i, "", f"invalid UTF-8 at byte {e.start} of the line: "
                                 "expected UTF-8 text", raw.decode("utf-8", errors="replace")))
            out.append(b"")
    return b"\n".join(out), bad


def _chunk(datas: list[bytes], first_idx: int) -> pa.RecordBatch:
    buf = b"".join(datas)
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = np.cumsum([len(d) for d in datas])
    # line starts: 0, every byte after a newline that is not the end of the buffer
    starts = np.concatenate(([0], nl + 1))
    starts = starts[starts < len(buf)]
    offsets = np.append(starts, len(buf)).astype(np.int64)
    file_of = np.searchsorted(ends, starts, side="right").astype(np.int32)
    file_start = np.concatenate(([0], ends[:-1]))
    # line number = newlines before the start within the same file + 1
    nl_before = np.searchsorted(nl, starts, side="left")
    nl_before_file = np.searchsorted(nl, file_start, side="left")
    line = (nl_before - nl_before_file[file_of] + 1).astype(np.int32)
    text = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(buf))
    return pa.RecordBatch.from_arrays(
        [pa.array(file_of + first_idx), pa.array(line), text], names=["file_idx", "line", "raw"])


def register_lines(con: duckdb.DuckDBPyConnection, name: str, contents: Sequence[bytes],
                   rels: Sequence[str]) -> list[Rejection]:
    """Create temp view `name(file_idx, line, raw)`: one row per non-blank line of each
    file, with its line ending (`file_idx` is the index in `contents`, `line` is 1-based). Lines that are not
    valid UTF-8 are left out and returned as Rejections."""
    rejections: list[Rejection] = []
    batches: list[pa.RecordBatch] = []
    group: list[bytes] = []
    group_first = 0
    size = 0
    for i, (data, rel) in enumerate(zip(contents, rels)):
        data, bad = _valid_utf8(data, rel)
        rejections += bad
        if data and not data.endswith(b"\n"):
            data += b"\n"
        if size and size + len(data) > _CHUNK_BYTES:
            batches.append(_chunk(group, group_first))
            group, group_first, size = [], i, 0
        group.append(data)
        size += len(data)
    if group:
        batches.append(_chunk(group, group_first))
    schema = pa.schema([("file_idx", pa.int32()), ("line", pa.int32()), ("raw", pa.large_string())])
    table = pa.Table.from_batches(batches, schema=schema)
    con.register(f"{name}_arrow", table)
    # every line keeps its newline (JSON treats it as whitespace); blank lines are dropped
    con.execute(f"""
        create or replace temp view {name} as
        select file_idx, line, raw from {name}_arrow
        where raw not in (chr(10), chr(13) || chr(10))""")
    return rejections


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"drop view if exists {name}")
    con.unregister(f"{name}_arrow")
