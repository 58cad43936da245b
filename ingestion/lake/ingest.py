"""The GPU telemetry loader of a warehouse fed by the lake (`ingestion.load` runs it for
`gpu_telemetry`): the engine checks the new batches and writes their samples to the lake;
the warehouse gets the quarantine rows, the file ledger and the per-GPU daily figures
(`raw.gpu_daily`) in one transaction, and `raw.gpu_samples` becomes a view of the lake's
samples, so that they stay queryable from DuckDB (and dbt's source) without being copied.

The lake of a warehouse: the one given; else, for the configured warehouse (aidnav.config),
the configured lake (`AIDNAV_LAKE_URL`, default `<data dir>/lake`); else a `lake/` folder
beside the warehouse file (a replay's or a test's own warehouse never writes to the
configured lake); an in-memory warehouse gets an in-memory lake of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from aidnav.config import load_settings
from ingestion.lake.engine import LakeRun, gpu_telemetry_run, reduce_partition, split_samples
from ingestion.lake.lake import SAMPLE_SCHEMA, Lake, lake_url
from ingestion.landing import ledger_rows_of, record_file_stats, record_files
from ingestion.nvml.ingest import SOURCE
from ingestion.registry import Registry
from ingestion.stats import IngestStats


def warehouse_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file of the connection's database; None when it is in memory."""
    [(path,)] = con.execute("select path from duckdb_databases() "
                            "where database_name = current_database()").fetchall()
    return Path(path).resolve() if path else None


def lake_of(con: duckdb.DuckDBPyConnection) -> str:
    """The lake of the warehouse `con` is open on, when none is given (module docstring)."""
    path = warehouse_file(con)
    if path is None:
        con.execute("create temp table if not exists _aidnav_lake (url varchar)")
        rows = con.execute("select url from _aidnav_lake").fetchall()
        if not rows:
            rows = [(f"memory://aidnav-lake-{uuid.uuid4().hex}",)]
            con.execute("insert into _aidnav_lake values (?)", rows[0]).fetchall()
        return rows[0][0]
    if path == Path(load_settings().warehouse_path).resolve():
        return lake_url()
    return str(path.parent / "lake")


def ingest_gpu_lake(con: duckdb.DuckDBPyConnection, landing_dir: str | Path,
                    registry: Registry, dates: Iterable[date] | None = None, *,
                    lake: str | Path | None = None, now: datetime | None = None,
                    scheduler: str | None = None,
                    max_file_bytes: int | None = None) -> IngestStats:
    """Ingest the GPU telemetry batches under `landing_dir` (all delivery dates, or only
    `dates`) that are new to the file ledger: samples to the lake, the rest to the
    warehouse. On the Dask cluster at `scheduler` (default AIDNAV_DASK_SCHEDULER), else in
    this process."""
    lake = str(lake) if lake is not None else lake_of(con)
    # `con` writes the warehouse, which DuckDB lets one process do at a time, and only
    # this warehouse writes this lake: a run folder found now is a killed run's
    Lake(lake).remove_all_runs()
    _adopt_samples_table(con, lake, registry)
    # the ledger's rows of the files the run lists, as it lists them: never the whole
    # ledger, which grows with every batch ever delivered
    with gpu_telemetry_run(landing_dir, lake, registry,
                           lambda files: ledger_rows_of(con, SOURCE, files), dates=dates,
                           now=now, max_file_bytes=max_file_bytes,
                           scheduler=scheduler) as run:
        store_run(con, run, lake)
    return run.stats


def store_run(con: duckdb.DuckDBPyConnection, run: LakeRun, lake: str) -> None:
    """Write what an open lake run leaves to the warehouse, in one transaction: quarantine
    rows (replacing those of batches read again), streamed by DuckDB from the run's
    fragments, ledger rows, the listed size and modification time of every batch it read,
    and the daily figures of every partition it rewrote; then point raw.gpu_samples at
    the lake."""
    con.execute("begin transaction")
    try:
        if run.fresh:
            con.execute("delete from raw.quarantine where source = ? and file in "
                        "(select unnest(?))", [SOURCE, list(run.fresh)]).fetchall()
        _insert_quarantine(con, run)
        led = run.ledger.to_pydict()
        record_files(con, SOURCE, list(zip(led["file"], led["sha256"], led["rows_loaded"],
                                           led["rows_quarantined"])))
        record_file_stats(con, SOURCE, run.read)
        _store_daily(con, run.partitions, run.daily)
        point_samples_view(con, lake, has_samples=bool(run.partitions))
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _insert_quarantine(con: duckdb.DuckDBPyConnection, run: LakeRun) -> None:
    """The run's quarantine rows into raw.quarantine, read by DuckDB from its fragments
    (never held by Python: a fleet-wide refusal is as many rows as lines delivered)."""
    if not run.quarantine_files:
        return
    lk = Lake(run.lake_url)
    con.execute("insert into raw.quarantine select source, file, line, field, reason, "
                "record, now() from read_parquet($files)",
                {"files": [lk.duckdb_path(p, con) for p in run.quarantine_files]}).fetchall()


def _store_daily(con: duckdb.DuckDBPyConnection, partitions, daily: pa.Table) -> None:
    if not partitions:
        return
    con.register("_gpu_daily_parts", pa.table({
        "day": pa.array([d for _, d in partitions], pa.date32()),
        "node_id": pa.array([n for n, _ in partitions], pa.string())}))
    con.register("_gpu_daily_rows", daily)
    try:
        con.execute("delete from raw.gpu_daily where (day, node_id) in "
                    "(select (day, node_id) from _gpu_daily_parts)").fetchall()
        con.execute("insert into raw.gpu_daily by name select * from _gpu_daily_rows").fetchall()
    finally:
        con.unregister("_gpu_daily_parts")
        con.unregister("_gpu_daily_rows")


def _samples_kind(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select table_type from information_schema.tables where "
                       "table_schema = 'raw' and table_name = 'gpu_samples'").fetchall()
    return rows[0][0] if rows else None


def point_samples_view(con: duckdb.DuckDBPyConnection, lake: str,
                       has_samples: bool = False) -> None:
    """raw.gpu_samples as a view of the lake's samples, once the lake has a partition (the
    warehouse's empty table stands for an empty lake until then). `has_samples`: the
    caller knows it has one (the lake is not listed then)."""
    lk = Lake(lake)
    if not has_samples and not lk.partitions():
        return
    if _samples_kind(con) == "BASE TABLE":
        con.execute("drop table raw.gpu_samples")
    con.execute("create or replace view raw.gpu_samples as select * from "
                f"read_parquet({_sql_text(lk.parquet_glob(con))}, hive_partitioning = false)")


def _sql_text(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def samples_of_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> str:
    """raw.gpu_samples narrowed to the days start..end, as a relation for a FROM clause.

    The view reads every partition file of the lake, and DuckDB opens each file's footer to
    find the rows of a time filter: over a year of 1,000 GPUs (45,625 partitions) a count of
    one day's samples took 7.3 s, and the samples' suite, which reads them three times,
    31 s (0.08 s from the day's folder alone). A lake partition holds one UTC day's
    samples, so the days' own folders hold all of theirs: read those alone. A warehouse
    whose samples are a table, or whose view reads another lake than `lake_of` (a warehouse
    pointed at a lake by hand), gets raw.gpu_samples itself."""
    if _samples_kind(con) != "VIEW":
        return "raw.gpu_samples"
    lk = Lake(lake_of(con))
    [(view,)] = con.execute("select sql from duckdb_views() where schema_name = 'raw' "
                            "and view_name = 'gpu_samples'").fetchall()
    if _sql_text(lk.parquet_glob(con)) not in view:
        return "raw.gpu_samples"
    days = [date.fromordinal(d) for d in range(start.toordinal(), end.toordinal() + 1)]
    globs = lk.day_globs(days, con)
    if not globs:
        return _no_samples(con)
    return f"read_parquet([{', '.join(map(_sql_text, globs))}], hive_partitioning = false)"


def _no_samples(con: duckdb.DuckDBPyConnection) -> str:
    """An empty relation with the samples' columns, which opens no file of the lake."""
    con.register("_no_samples", pa.Table.from_pylist([], schema=SAMPLE_SCHEMA))
    try:
        columns = con.execute("describe select * from _no_samples").fetchall()
    finally:
        con.unregister("_no_samples")
    nulls = ", ".join(f'cast(null as {kind}) as "{name}"' for name, kind, *_ in columns)
    return f"(select {nulls} limit 0)"


def _adopt_samples_table(con: duckdb.DuckDBPyConnection, lake: str,
                         registry: Registry) -> None:
    """A warehouse that kept its samples in raw.gpu_samples: move them to the lake (each
    partition deduplicated and reduced as a run would), once."""
    if _samples_kind(con) != "BASE TABLE":
        return
    samples = con.sql("select * from raw.gpu_samples").to_arrow_table()
    if not samples.num_rows:
        return
    parts = split_samples(samples, registry)
    if not parts:  # none of a GPU still registered
        return
    daily = [reduce_partition(lake, node, day, t) for (node, day), t in sorted(parts.items())]
    con.execute("begin transaction")
    try:
        _store_daily(con, tuple(parts), pa.concat_tables(daily))
        point_samples_view(con, lake, has_samples=True)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
