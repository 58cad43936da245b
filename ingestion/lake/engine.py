"""GPU telemetry on Dask: the work of a run split per (node, day) into tasks.

0. The run's process lists the zone one node folder at a time, asks the ledger about the
   listed files only (some LOOKUP_FILES at a time), and keeps a small record of each
   folder with something to read (`_Folder`): never the zone's files, nor the whole ledger.
1. One task per few delivery folders (`gpu_telemetry/<delivery day>/<node_id>/`) lists
   them again and checks the batches new to the file ledger exactly as
   `ingestion.nvml.ingest` does (size, sha256, signature, every line parsed and
   validated, in a private in-memory DuckDB), and splits
   its valid samples by (the GPU's registered node, UTC sample day) into fragments under
   the lake's `_incoming/<run>/` folder (Arrow IPC files), and its quarantine rows into a
   Parquet file beside them; it returns only its summary (stats, ledger rows, how many
   quarantine rows it wrote and how many samples each partition got).
2. One task per few (node, sample day) partitions that received samples reads their
   fragments and merges them with the lake's partition, keeps the first copy of each
   (GPU, ts) by (source file, line) as staging always did, rewrites the partition when it
   changed, and reduces it to the per-GPU daily figures of METHODOLOGY.md section 1
   (int_gpu_samples_daily's energy rule). A late delivery thus re-reduces only the
   partitions its samples fall in.

No task holds more than its own share of the delivered lines, and no sample or quarantine
row is sent to another process (they pass through files): memory is bounded by the size
of a task, not by the fleet or by how much of a delivery is refused. Only the ledger and
the listed size and time of each batch read (a row per batch) and the daily figures (a
row per GPU and day) come back to the run's process; the tasks get each GPU's node and
key (`GpuFleet`), not the registry. The run's fragments are removed when it ends, whether
it succeeded or not.

With `AIDNAV_DASK_SCHEDULER=tcp://host:port` the tasks run on that cluster through
`distributed.Client` (the landing zone and the lake must be reachable from its workers);
without it they run in this process on dask's threaded scheduler, as many tasks at once
as the machine has cores, each with one DuckDB thread (DuckDB, Arrow, zstd and hashlib
release the GIL). All run the same task functions on the same inputs, so the lake files
and the figures are byte-identical.

The caller keeps the warehouse: inside `gpu_telemetry_run` it stores the ledger rows, the
daily figures and the quarantine rows, which DuckDB reads from the run's Parquet fragments
(`store_run`); `run_gpu_telemetry` returns a run with its quarantine rows read into memory
(tests and the benchmark).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import dask
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from dask import delayed
from dask.threaded import get as threaded_get

from aidnav.config import load_settings
from ingestion.bounds import GPU_NUMERIC, sql_number
from ingestion.compression import codec_of
from ingestion.landing import (FILE_STATS_SCHEMA, Landing, LandingFile, file_stats, is_refusal,
                               is_telemetry_delivery, read_when_ledgered, record_files)
from ingestion.lake.lake import SAMPLE_SCHEMA, Lake
from ingestion.nvml.ingest import SOURCE, GpuFleet, ingest_gpu_telemetry
from ingestion.registry import Registry
from ingestion.stats import IngestStats
from ingestion.warehouse import connect

SCHEDULER_ENV = "AIDNAV_DASK_SCHEDULER"  # read by aidnav.config
# how long a run waits for the scheduler to answer before it stops with SchedulerUnreachable
CONNECT_TIMEOUT_S = 5
# the work of one task: JSON Lines bytes checked, samples deduplicated and reduced
TASK_BYTES = 16 << 20
TASK_SAMPLES = 250_000
# what a compressed delivery is counted as, times its size, when the work is cut (telemetry
# batches compress about 15 times with zstd or gzip; the cut needs no more than a guess)
COMPRESSED_WEIGHT = 8
# listed files whose ledger rows are asked for at once
LOOKUP_FILES = 50_000
# tasks run at once in this process when there is no cluster: one per core
IN_PROCESS_TASKS = os.cpu_count() or 1

DAILY_SCHEMA = pa.schema([
    ("day", pa.date32()), ("node_id", pa.string()), ("asset_id", pa.string()),
    ("valid_samples", pa.int32()), ("util_sum", pa.decimal128(38, 6)),
    ("energy_in_day_mj", pa.decimal128(38, 6)), ("first_energy_mj", pa.decimal128(38, 6)),
    ("last_energy_mj", pa.decimal128(38, 6)),
])
QUARANTINE_SCHEMA = pa.schema([
    ("source", pa.string()), ("file", pa.string()), ("line", pa.int32()),
    ("field", pa.string()), ("reason", pa.string()), ("record", pa.string()),
])
LEDGER_SCHEMA = pa.schema([
    ("file", pa.string()), ("sha256", pa.string()), ("rows_loaded", pa.int32()),
    ("rows_quarantined", pa.int32()),
])

# one row per (GPU, ts): the first valid copy by relative file path, then line; rows of
# several partitions at once (part_node, part_day), each partition's rows together
_DEDUPE_SQL = """
    select * from _lake_samples
    qualify row_number() over (partition by gpu_uuid, ts order by source_file, line) = 1
    order by part_day, part_node, gpu_uuid, ts"""
# the same rows when no (GPU, ts) repeats, the common case: one sort instead of a window
# and a sort (about three times faster)
_SORT_SQL = "select * from _lake_samples order by part_day, part_node, gpu_uuid, ts"
_REPEATS_SQL = "select count(*) - count(distinct (gpu_uuid, ts)) from _lake_samples"

# int_gpu_samples_daily over partitions: a fall is a counter reset and a rise faster than
# the plausible power allows (mJ/s = 1000 x W) a counter that jumped; both count 0
_DAILY_SQL = f"""
    with samples as (
        select part_node, gpu_uuid as asset_id, timezone('UTC', ts) as ts_utc,
               cast(timezone('UTC', ts) as date) as day,
               cast(gpu_util_pct as decimal(38, 6)) as gpu_util_pct,
               cast(energy_mj as decimal(38, 6)) as energy_mj
        from _lake_merged),
    deltas as (
        select *,
            energy_mj - lag(energy_mj) over (partition by asset_id, day order by ts_utc)
                as delta_mj,
            epoch(ts_utc) - epoch(lag(ts_utc) over (partition by asset_id, day order by ts_utc))
                as elapsed_s
        from samples),
    counted as (
        select *,
            case when delta_mj > {sql_number(GPU_NUMERIC['power_w'][1])} * 1000 * elapsed_s
                 then 0 else greatest(delta_mj, 0) end as counted_mj
        from deltas)
    select
        cast(day as date) as day,
        cast(part_node as varchar) as node_id,
        cast(asset_id as varchar) as asset_id,
        cast(count(*) as integer) as valid_samples,
        cast(sum(gpu_util_pct) as decimal(38, 6)) as util_sum,
        cast(coalesce(sum(counted_mj), 0) as decimal(38, 6)) as energy_in_day_mj,
        cast(arg_min(energy_mj, ts_utc) as decimal(38, 6)) as first_energy_mj,
        cast(arg_max(energy_mj, ts_utc) as decimal(38, 6)) as last_energy_mj
    from counted
    group by day, part_node, asset_id
    order by day, part_node, asset_id"""


class SchedulerUnreachable(TimeoutError):
    """The Dask scheduler named by AIDNAV_DASK_SCHEDULER did not answer."""


@contextmanager
def dask_scheduler(address: str | None = None) -> Iterator[Any]:
    """What dask.compute runs on: a `distributed.Client` of `address` (default
    `AIDNAV_DASK_SCHEDULER`), closed on exit, or `in_process` when there is no address.
    Raises SchedulerUnreachable after CONNECT_TIMEOUT_S without an answer."""
    address = (load_settings().dask_scheduler or "") if address is None else address
    if not address.strip():
        # the function itself, not its name: a name makes dask import distributed to look
        # for a default client, a second of start-up for nothing
        yield in_process
        return
    from distributed import Client

    try:
        client = Client(address.strip(), timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        why = "no answer" if isinstance(e, (OSError, TimeoutError)) else f"invalid address: {e}"
        raise SchedulerUnreachable(
            f"Dask scheduler {address.strip()} ({SCHEDULER_ENV}): {why} within "
            f"{CONNECT_TIMEOUT_S} s — start the scheduler and its workers, or unset "
            f"{SCHEDULER_ENV} to run in this process") from None
    try:
        yield client
    finally:
        client.close()


def in_process(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """Dask's threaded scheduler with IN_PROCESS_TASKS threads: the scheduler of a run
    without a cluster."""
    return threaded_get(dsk, keys, num_workers=IN_PROCESS_TASKS, **kwargs)


def _task_threads(sched: Any, tasks: int) -> int | None:
    """DuckDB threads for each of `tasks` tasks run at once on `sched`: in this process,
    the cores shared among the tasks that run together; on a cluster, None (the worker's
    own, `_one_task_threads`)."""
    if sched is not in_process:
        return None
    return max(1, IN_PROCESS_TASKS // max(1, min(tasks, IN_PROCESS_TASKS)))


@dataclass(frozen=True)
class _Checked:
    """What one delivery folder's task found."""

    stats: IngestStats
    fresh: tuple[str, ...]  # batches read for the first time (their old quarantine rows go)
    quarantine_file: str | None  # its quarantine rows' fragment (None: it has none)
    quarantine_rows: int
    ledger: pa.Table
    parts: dict[tuple[str, date], int]  # (registered node, sample day) -> samples written
    read: pa.Table  # the deliveries it read, as it listed them (FILE_STATS_SCHEMA)


@dataclass(frozen=True)
class LakeRun:
    """What a run did: the ingestion summary, the warehouse rows it leaves to the caller
    (ledger rows, quarantine rows, the batches whose earlier quarantine rows they replace),
    and the daily figures of every (node, day) partition it rewrote or re-reduced.

    The quarantine rows lie in `quarantine_files` (Parquet, QUARANTINE_SCHEMA, paths in
    the lake at `lake_url`, in task order) while the run is open (`gpu_telemetry_run`);
    `quarantine` reads them, or returns the copy `run_gpu_telemetry` kept."""

    stats: IngestStats
    fresh: tuple[str, ...]
    ledger: pa.Table
    daily: pa.Table
    partitions: tuple[tuple[str, date], ...]
    lake_url: str
    quarantine_files: tuple[str, ...]
    quarantine_rows: int
    # the deliveries this run read (not unchanged), as listed then (FILE_STATS_SCHEMA)
    read: pa.Table = dataclasses.field(default_factory=FILE_STATS_SCHEMA.empty_table,
                                       repr=False)
    kept_quarantine: pa.Table | None = dataclasses.field(default=None, repr=False)

    @property
    def quarantine(self) -> pa.Table:
        """Every quarantine row of the run (QUARANTINE_SCHEMA), in memory."""
        if self.kept_quarantine is not None:
            return self.kept_quarantine
        fs = Lake(self.lake_url).fs
        tables = []
        for path in self.quarantine_files:
            with fs.open(path, "rb") as fh:
                tables.append(pq.read_table(fh).cast(QUARANTINE_SCHEMA))
        return pa.concat_tables(tables) if tables else QUARANTINE_SCHEMA.empty_table()


@dataclass(frozen=True)
class _CheckTask:
    """The inputs of one check task (one object, so that dask does not walk its lists)."""

    landing_url: str
    lake_url: str
    run_id: str
    task_no: int
    folders: list[_Folder]
    now: datetime
    max_file_bytes: int | None
    threads: int | None = None  # DuckDB threads (None: as `_one_task_threads` decides)


@dataclass(frozen=True)
class _Folder:
    """A delivery folder (`gpu_telemetry/<day>/<node>/`) for a check task, which lists it
    itself: the run's process keeps this much of a folder, not its files."""

    day: str
    node: str
    weight: int  # what its files to read weigh when the work is cut
    left_out: frozenset[str] = frozenset()  # listed files not to read (unchanged, their .sig)
    seen: tuple[tuple[str, str], ...] = ()  # (path, ledger sha256) of ledgered ones to read

    def files(self, landing: Landing) -> list[LandingFile]:
        """The folder's files to read, as a listing now shows them, in path order."""
        return [f for f in landing.list_folder(SOURCE, f"{self.day}/{self.node}", 2)
                if f.rel not in self.left_out]


def _check_folder(task: _CheckTask, fleet: GpuFleet) -> _Checked:
    """Task: verify, parse and validate delivery folders' new batches; their valid samples
    go to the run's fragments, one per partition."""
    landing = Landing(task.landing_url)
    files = [f for folder in task.folders for f in folder.files(landing)]
    seen = dict(pair for folder in task.folders for pair in folder.seen)
    con = connect(":memory:")
    try:
        _one_task_threads(con, task.threads)
        con.execute("set TimeZone = 'UTC'")
        record_files(con, SOURCE, [(rel, sha, 0, 0) for rel, sha in seen.items()])
        stats = ingest_gpu_telemetry(con, task.landing_url, fleet, now=task.now,
                                     max_file_bytes=task.max_file_bytes, files=files)
        quarantine = con.sql(
            "select source, file, line, field, reason, record from raw.quarantine "
            "order by file, line, field, reason").to_arrow_table().cast(QUARANTINE_SCHEMA)
        lake = Lake(task.lake_url)
        quarantine_file = (lake.write_quarantine_fragment(task.run_id, task.task_no, quarantine)
                           if quarantine.num_rows else None)
        ledger = con.sql(
            "select file, sha256, rows_loaded, rows_quarantined from raw.ingested_files "
            "where not list_contains($seen, file) order by file",
            params={"seen": list(seen)}).to_arrow_table().cast(LEDGER_SCHEMA)
        parts = {}
        for key, part in _by_partition(con, "raw.gpu_samples", fleet):
            lake.write_fragment(task.run_id, *key, task.task_no, part)
            parts[key] = part.num_rows
    finally:
        con.close()
    refused = {f for f, sha in zip(ledger["file"].to_pylist(), ledger["sha256"].to_pylist())
               if is_refusal(sha)}
    deliveries = [f for f in files if is_telemetry_delivery(f)]
    fresh = tuple(f.rel for f in deliveries if f.rel not in seen and f.rel not in refused)
    return _Checked(stats, fresh, quarantine_file, quarantine.num_rows, ledger, parts,
                    file_stats(deliveries))


def _one_task_threads(con: duckdb.DuckDBPyConnection, threads: int | None = None) -> None:
    """DuckDB's threads for a task: `threads` when given (in this process); on a Dask
    worker, the worker's threads, not the machine's: the worker runs that many tasks at
    once, and the cluster's size is what sets the pace."""
    if threads is not None:
        con.execute(f"set threads = {int(threads)}")
        return
    if "distributed" not in sys.modules:
        return  # in this process, no cluster in sight: DuckDB uses the machine
    from distributed import get_worker

    try:
        threads = get_worker().state.nthreads
    except ValueError:
        return  # in this process: DuckDB uses the machine
    con.execute(f"set threads = {int(threads)}")


def _by_partition(con: duckdb.DuckDBPyConnection, relation: str,
                  registry: Registry | GpuFleet
                  ) -> Iterator[tuple[tuple[str, date], pa.Table]]:
    """The valid samples (SAMPLE_SCHEMA) of `relation` on `con` by lake partition: (the
    node the GPU is registered to, the sample's UTC day), each in (source file, line)
    order; partitions by node then day. Samples of a GPU no longer registered have none."""
    con.register("_gpu_nodes", GpuFleet.of(registry).gpus)
    try:
        keyed = con.sql(f"""
            select s.*, n.node_id as part_node, cast(timezone('UTC', s.ts) as date) as part_day
            from {relation} s join _gpu_nodes n on n.asset_id = s.gpu_uuid
            order by part_node, part_day, s.source_file, s.line""").to_arrow_table()
    finally:
        con.unregister("_gpu_nodes")
    if not keyed.num_rows:
        return
    # the sorted rows cut where the key changes: one pass, whatever the number of partitions
    counts = keyed.select(["part_node", "part_day"]).group_by(
        ["part_node", "part_day"], use_threads=False).aggregate([([], "count_all")])
    samples = keyed.select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA)
    offset = 0
    for node_id, day, n in zip(counts["part_node"].to_pylist(),
                               counts["part_day"].to_pylist(), counts["count_all"].to_pylist()):
        yield (node_id, day), samples.slice(offset, n)
        offset += n


def split_samples(samples: pa.Table, registry: Registry | GpuFleet
                  ) -> dict[tuple[str, date], pa.Table]:
    """Valid samples (SAMPLE_SCHEMA) by lake partition: (the node the GPU is registered to,
    the sample's UTC day), each in (source file, line) order."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("_samples", samples)
        return {k: t.combine_chunks() for k, t in _by_partition(con, "_samples", registry)}
    finally:
        con.close()


def reduce_partitions(lake_url: str, work: list[tuple[str, date, list[pa.Table | None]]],
                      threads: int | None = None) -> pa.Table:
    """Task: for each (node_id, day, new samples) of `work`, merge the new samples into
    that lake partition, deduplicated, rewrite it when that changed it, and reduce it to
    its per-GPU daily figures; returns them all (DAILY_SCHEMA), by day, node and GPU.
    One SQL pass over all the partitions of the task, on `threads` DuckDB threads (None:
    as `_one_task_threads` decides)."""
    lake = Lake(lake_url)
    olds, keyed = {}, []
    for node_id, day, new in work:
        olds[(node_id, day)] = old = lake.read(node_id, day)
        for t in (old, *new):
            if t is not None and t.num_rows:
                keyed.append(t.append_column("part_node", pa.array([node_id] * t.num_rows,
                                                                    pa.string()))
                             .append_column("part_day", pa.array([day] * t.num_rows,
                                                                 pa.date32())))
    if not keyed:
        return DAILY_SCHEMA.empty_table()
    con = duckdb.connect()
    try:
        _one_task_threads(con, threads)
        con.execute("set TimeZone = 'UTC'")
        con.register("_lake_samples", pa.concat_tables(keyed))
        [(repeats,)] = con.execute(_REPEATS_SQL).fetchall()
        merged = con.sql(_DEDUPE_SQL if repeats else _SORT_SQL).to_arrow_table()
        con.register("_lake_merged", merged)
        daily = con.sql(_DAILY_SQL).to_arrow_table().cast(DAILY_SCHEMA)
        counts = con.sql("select part_day, part_node, count(*) from _lake_merged "
                         "group by all order by all").fetchall()
    finally:
        con.close()
    samples = merged.select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA)
    offset = 0
    for day, node_id, n in counts:
        part = samples.slice(offset, n)
        offset += n
        old = olds[(node_id, day)]
        if old is None or not part.equals(old):
            lake.write(node_id, day, part)
    return daily


def reduce_fragments(lake_url: str, run_id: str,
                     work: list[tuple[str, date, list[int]]], threads: int | None = None
                     ) -> pa.Table:
    """Task: `reduce_partitions` of the partitions (node_id, day, the check tasks that
    wrote a fragment of it) of run `run_id`, read from their fragments."""
    lake = Lake(lake_url)
    return reduce_partitions(lake_url, [
        (node_id, day, [lake.read_fragment(run_id, node_id, day, t) for t in tasks])
        for node_id, day, tasks in work], threads)


def reduce_partition(lake_url: str, node_id: str, day: date, *new: pa.Table | None
                     ) -> pa.Table:
    """`reduce_partitions` of one partition."""
    return reduce_partitions(lake_url, [(node_id, day, list(new))])


def delivery_folders(landing: Landing, dates: Iterable[date] | None = None
                     ) -> dict[tuple[str, str], list[LandingFile]]:
    """The zone's telemetry files by (delivery folder, node folder), in path order."""
    return dict(_listed_folders(landing, dates))


def _listed_folders(landing: Landing, dates: Iterable[date] | None = None
                    ) -> Iterator[tuple[tuple[str, str], list[LandingFile]]]:
    """((delivery folder, node folder), its files in path order), one folder at a time in
    folder order: the zone is never listed whole at once."""
    wanted = None if dates is None else {d.isoformat() for d in dates}
    for day in landing.folders(SOURCE):
        if wanted is not None and day not in wanted:
            continue
        for node in landing.folders(SOURCE, day):
            files = landing.list_folder(SOURCE, f"{day}/{node}", 2)
            if files:
                yield (day, node), files


def _folders_to_read(landing: Landing, dates: Iterable[date] | None, lookup: LedgerOf,
                     group_files: int) -> tuple[list[_Folder], int]:
    """The delivery folders with something to read, and how many ledgered deliveries were
    left out unread (listed as when last read); the ledger is asked about some
    `group_files` listed files at a time."""
    out: list[_Folder] = []
    skipped = 0
    group: list[tuple[tuple[str, str], list[LandingFile]]] = []

    def flush() -> None:
        nonlocal skipped
        seen, unchanged = lookup([f.rel for _, fs in group for f in fs
                                  if is_telemetry_delivery(f)])
        for (day, node), files in group:
            kept, n = _unchanged_left_out([files], seen, unchanged)
            skipped += n
            if not kept:
                continue
            read = {f.rel for f in kept[0]}
            out.append(_Folder(day, node, sum(_weight(f) for f in kept[0]),
                               frozenset(f.rel for f in files if f.rel not in read),
                               tuple((r, seen[r]) for r in sorted(read) if r in seen)))
        group.clear()

    size = 0
    for key, files in _listed_folders(landing, dates):
        group.append((key, files))
        size += len(files)
        if size >= group_files:
            flush()
            size = 0
    if group:
        flush()
    return out, skipped


# the ledger's rows of some listed files (relative paths): (path -> sha256, path ->
# (size, modification time) when a run last read it)
LedgerOf = Callable[[list[str]], tuple[dict[str, str], dict[str, tuple[int, float]]]]


def _ledger_lookup(seen: Mapping[str, str], unchanged: Mapping[str, tuple[int, float]]
                   ) -> LedgerOf:
    """A LedgerOf over the ledger's rows held in memory."""
    def of(rels: list[str]) -> tuple[dict[str, str], dict[str, tuple[int, float]]]:
        return ({r: seen[r] for r in rels if r in seen},
                {r: unchanged[r] for r in rels if r in unchanged})
    return of


def _bundles(items: list[Any], weights: list[int], limit: int) -> list[list[Any]]:
    """`items` in order, cut into consecutive bundles of at least `limit` weight each
    (the last one may weigh less)."""
    out: list[list[Any]] = []
    current: list[Any] = []
    total = 0
    for item, w in zip(items, weights):
        current.append(item)
        total += w
        if total >= limit:
            out.append(current)
            current, total = [], 0
    if current:
        out.append(current)
    return out


@contextmanager
def gpu_telemetry_run(landing_url: str | Path, lake_url: str | Path, registry: Registry,
                      seen: Mapping[str, str] | LedgerOf, *,
                      dates: Iterable[date] | None = None,
                      now: datetime | None = None, max_file_bytes: int | None = None,
                      scheduler: str | None = None, task_bytes: int = TASK_BYTES,
                      task_samples: int = TASK_SAMPLES,
                      unchanged: dict[str, tuple[int, float]] | None = None
                      ) -> Iterator[LakeRun]:
    """Check the telemetry deliveries under `landing_url` that are not in `seen` (the
    file ledger: relative path -> sha256; or a LedgerOf, asked about the listed files some
    LOOKUP_FILES at a time, which then also gives `unchanged`), write their samples to the
    lake at `lake_url`
    and reduce the partitions they touch; on the cluster at `scheduler` (default
    AIDNAV_DASK_SCHEDULER), else in this process (`in_process`). Yields the run, whose quarantine
    fragments exist until the block ends; then the run's `_incoming/<run>/` goes.

    A ledgered delivery is read again, and its sha256 compared with the ledger's, unless
    it is listed with the size and modification time of `unchanged` (path -> (size,
    mtime) when a run last read it): then it is skipped without being opened.

    A task checks whole delivery folders, about `task_bytes` of them, and reduces whole
    partitions, about `task_samples` samples: a small day is one task of each kind, a
    large one is spread over the workers. The cut depends on the inputs alone."""
    t0 = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    landing_url, lake_url = str(landing_url), str(lake_url)
    landing = Landing(landing_url)
    # a ledgered delivery listed as it was last read is not opened again; any other is
    # read, and one whose bytes changed after it was ingested is quarantined
    lookup = seen if callable(seen) else _ledger_lookup(seen, unchanged or {})
    folders, skipped = _folders_to_read(landing, dates, lookup, LOOKUP_FILES)
    bundles = _bundles(folders, [f.weight for f in folders], task_bytes)
    lake, run_id = Lake(lake_url), uuid.uuid4().hex
    try:
        with dask_scheduler(scheduler) as sched:
            # keys are never reused (pure=False): a later run's tasks read a landing zone
            # and a lake that may have changed, so no result of an earlier one may stand in
            # the GPUs' nodes and keys, not the registry (GpuFleet): a few times smaller
            reg = delayed(GpuFleet.of(registry), traverse=False)
            threads = _task_threads(sched, len(bundles))
            checked = dask.compute(*[delayed(_check_folder, pure=False)(delayed(_CheckTask(
                landing_url, lake_url, run_id, n, bundle, now, max_file_bytes, threads),
                traverse=False), reg)
                for n, bundle in enumerate(bundles)], scheduler=sched)
            writers: dict[tuple[str, date], list[int]] = {}
            rows: dict[tuple[str, date], int] = {}
            for n, c in enumerate(checked):
                for k, count in c.parts.items():
                    writers.setdefault(k, []).append(n)
                    rows[k] = rows.get(k, 0) + count
            parts = sorted(writers, key=lambda k: (k[1], k[0]))
            work = _bundles(parts, [rows[k] for k in parts], task_samples)
            threads = _task_threads(sched, len(work))
            reduced = dask.compute(*[delayed(reduce_fragments, pure=False)(
                lake_url, run_id, [(node, day, writers[(node, day)]) for node, day in bundle],
                threads) for bundle in work], scheduler=sched) if work else ()
        daily = (pa.concat_tables(reduced) if reduced else DAILY_SCHEMA.empty_table())
        stats = IngestStats(SOURCE, sum(c.stats.files_read for c in checked),
                            skipped + sum(c.stats.files_skipped for c in checked),
                            sum(c.stats.rows_loaded for c in checked),
                            sum(c.stats.rows_quarantined for c in checked),
                            time.perf_counter() - t0)
        yield LakeRun(
            stats=stats,
            fresh=tuple(sorted(r for c in checked for r in c.fresh)),
            ledger=pa.concat_tables([c.ledger for c in checked])
            if checked else LEDGER_SCHEMA.empty_table(),
            daily=daily, partitions=tuple(parts), lake_url=lake_url,
            quarantine_files=tuple(c.quarantine_file for c in checked if c.quarantine_file),
            quarantine_rows=sum(c.quarantine_rows for c in checked),
            read=pa.concat_tables([c.read for c in checked])
            if checked else FILE_STATS_SCHEMA.empty_table())
    finally:
        lake.remove_run(run_id)


def _unchanged_left_out(folders: list[list[LandingFile]], seen: Mapping[str, str],
                        unchanged: Mapping[str, tuple[int, float]]
                        ) -> tuple[list[list[LandingFile]], int]:
    """The folders without the ledgered deliveries listed with the size and modification
    time they were last read with (nor their .sig), and how many deliveries that left out.
    A delivery refused from its metadata (a link, a pipe...) is always looked at again:
    what the listing says of it need not be what a read would find."""
    out, skipped = [], 0
    for files in folders:
        same = {f.path for f in files if is_telemetry_delivery(f) and f.rel in seen
                and read_when_ledgered(seen[f.rel]) and f.mtime is not None
                and unchanged.get(f.rel) == (f.size, f.mtime)}
        if same:
            skipped += len(same)
            files = [f for f in files if f.path not in same
                     and not (f.path.endswith(".sig") and f.path[:-4] in same)]
        if files:
            out.append(files)
    return out, skipped


def run_gpu_telemetry(*args: Any, **kwargs: Any) -> LakeRun:
    """`gpu_telemetry_run` (same arguments), its quarantine rows read into the run returned."""
    with gpu_telemetry_run(*args, **kwargs) as run:
        return dataclasses.replace(run, kept_quarantine=run.quarantine)


def _weight(f: LandingFile) -> int:
    return f.size if codec_of(f.rel) == "none" else f.size * COMPRESSED_WEIGHT


__all__ = ["CONNECT_TIMEOUT_S", "DAILY_SCHEMA", "LakeRun", "SCHEDULER_ENV",
           "LedgerOf", "SchedulerUnreachable", "dask_scheduler", "delivery_folders",
           "gpu_telemetry_run",
           "reduce_fragments", "reduce_partition", "reduce_partitions", "run_gpu_telemetry",
           "split_samples"]
