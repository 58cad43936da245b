"""BI exports: every mart, one Parquet file per day, outside the DuckDB file.

`<exports_dir>/<mart>/date=<YYYY-MM-DD>/part-0.parquet` (hive partitioning), written to a
temporary name in the same folder and renamed with `os.replace`, so a reader sees either
the previous file or the new one, never half of one, and never meets the warehouse's
single-writer lock. Money columns keep their `decimal(38,18)` type in Parquet.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import duckdb
from tqdm import tqdm

from modelling.replay import MART_EXPORTS

# The BI-facing marts (the one list, MART_EXPORTS; docs/DATA_CONTRACTS.md "Marts"), plus
# the publisher's own day-keyed tables.
EXPORTED_MARTS: tuple[str, ...] = (*MART_EXPORTS, "publications", "restatements")


class ExportError(RuntimeError):
    pass


def partition_path(exports_dir: Path, mart: str, day: date) -> Path:
    """Where the export of `mart` for `day` lives."""
    return Path(exports_dir) / mart / f"date={day.isoformat()}" / "part-0.parquet"


def available_marts(con: duckdb.DuckDBPyConnection,
                    wanted: Sequence[str] = EXPORTED_MARTS) -> list[str]:
    """The marts of `wanted` that exist in the warehouse and have a `day` column."""
    rows = con.execute(
        "select table_name from information_schema.columns "
        "where table_schema = 'marts' and column_name = 'day'").fetchall()
    present = {r[0] for r in rows}
    return [m for m in wanted if m in present]


def export_day(con: duckdb.DuckDBPyConnection, exports_dir: Path, mart: str, day: date) -> int:
    """Write one mart-day atomically; returns its row count (a day without rows gets an
    empty file with the mart's schema, so BI tools find every day they expect)."""
    if not isinstance(day, date):
        raise ExportError(f"export of {mart}: expected a datetime.date, got {day!r}")
    target = partition_path(exports_dir, mart, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".part-0.parquet.{os.getpid()}.tmp")
    query = (f"select * from marts.{mart} where day = date '{day.isoformat()}' "
             "order by all")
    try:
        con.execute(f"copy ({query}) to '{_sql_path(tmp)}' (format parquet, compression zstd)")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return con.execute(f"select count(*) from marts.{mart} where day = ?", [day]).fetchone()[0]


def export_marts(con: duckdb.DuckDBPyConnection, exports_dir: Path, days: Iterable[date],
                 marts: Sequence[str] | None = None, progress: bool = False) -> dict[str, int]:
    """Export every mart for every day of `days`; returns rows written per mart."""
    days = sorted(set(days))
    names = available_marts(con, marts or EXPORTED_MARTS)
    if marts is not None:
        missing = sorted(set(marts) - set(names))
        if missing:
            raise ExportError(f"marts not in the warehouse (or without a day column): {missing}")
    counts = {m: 0 for m in names}
    jobs = [(m, d) for m in names for d in days]
    for mart, day in tqdm(jobs, desc="Parquet exports (mart-days)", unit="file",
                          disable=not progress, mininterval=0.5):
        counts[mart] += export_day(con, Path(exports_dir), mart, day)
    return counts


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
