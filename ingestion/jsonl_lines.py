"""Hand JSON Lines files to DuckDB as one table of (file_idx, line, text), so that a
single vectorised SQL pass parses, validates and routes every line. The bytes are the
ones already read (and hashed) in Python, so what is checked is exactly what is loaded."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from ingestion.landing import Rejection


def decode_files(contents: Sequence[bytes], rels: Sequence[str]) -> tuple[list[str], list[Rejection]]:
    """UTF-8 text of each file. A file that is not valid UTF-8 keeps its valid lines;
    each invalid line becomes a Rejection (and an empty line in the text, so that line
    numbers stay those of the file)."""
    texts: list[str] = []
    rejections: list[Rejection] = []
    for data, rel in zip(contents, rels):
        try:
            texts.append(data.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        lines = data.split(b"\n")
        out = []
        for i, raw in enumerate(lines, start=1):
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                rejections.append(Rejection(rel, i, "", f"invalid UTF-8 at byte {e.start} of the "
                                            "line: expected UTF-8 text",
                                            raw.decode("utf-8", errors="replace")))
                out.append("")
        texts.append("\n".join(out))
    return texts, rejections


def register_lines(con: duckdb.DuckDBPyConnection, name: str, texts: Sequence[str]) -> None:
    """Create temp view `name(file_idx, line, text)`: one row per non-blank line."""
    files = pa.table({"file_idx": pa.array(range(len(texts)), type=pa.int32()),
                      "content": pa.array(texts, type=pa.large_string())})
    con.register(f"{name}_files", files)
    con.execute(f"""
        create or replace temp view {name} as
        select file_idx, line, text from (
            select file_idx,
                   unnest(parts) as text0,
                   generate_subscripts(parts, 1)::integer as line,
                   rtrim(text0, chr(13) || chr(9) || ' ') as text
            from (select file_idx, string_split(content, chr(10)) as parts from {name}_files)
        ) where text <> ''""")


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"drop view if exists {name}")
    con.unregister(f"{name}_files")


TS_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})$"
