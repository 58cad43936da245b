"""GPU telemetry on Dask: the work of a run split per (node, day) into tasks.

1. One task per delivery folder (`gpu_telemetry/<delivery day>/<node_id>/`) checks the
   batches new to the file ledger exactly as `ingestion.nvml.ingest` does (size, sha256,
   signature, every line parsed and validated, in a private in-memory DuckDB), and splits
   its valid samples by (the GPU's registered node, UTC sample day).
2. One task per (node, sample day) that received samples merges them with the lake's
   partition, keeps the first copy of each (GPU, ts) by (source file, line) as staging
   always did, rewrites the partition when it changed, and reduces it to the per-GPU
   daily figures of METHODOLOGY.md section 1 (int_gpu_samples_daily's energy rule).
   A late delivery thus re-reduces only the partitions its samples fall in.

With `AIDNAV_DASK_SCHEDULER=tcp://host:port` the tasks run on that cluster through
`distributed.Client` (the landing zone and the lake must be reachable from its workers);
without it they run in this process on dask's synchronous scheduler. Both run the same
task functions on the same inputs, so the lake files and the figures are byte-identical.

The caller keeps the warehouse: the run returns the quarantine rows, the ledger rows and
the daily figures for it to store (`store_run`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import dask
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dask import delayed
from dask.local import get_sync

from aidnav.config import load_settings
from ingestion.bounds import GPU_NUMERIC, sql_number
from ingestion.compression import codec_of
from ingestion.landing import Landing, LandingFile, is_telemetry_delivery, record_files
from ingestion.lake.lake import SAMPLE_SCHEMA, Lake
from ingestion.nvml.ingest import SOURCE, ingest_gpu_telemetry
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
    `AIDNAV_DASK_SCHEDULER`), closed on exit, or the synchronous scheduler when there is
    no address. Raises SchedulerUnreachable after CONNECT_TIMEOUT_S without an answer."""
    address = (load_settings().dask_scheduler or "") if address is None else address
    if not address.strip():
        # the function itself, not its name: a name makes dask import distributed to look
        # for a default client, a second of start-up for nothing
        yield get_sync
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


@dataclass(frozen=True)
class _Checked:
    """What one delivery folder's task found."""

    stats: IngestStats
    fresh: tuple[str, ...]  # batches read for the first time (their old quarantine rows go)
    quarantine: pa.Table
    ledger: pa.Table
    samples: dict[tuple[str, date], pa.Table]  # (registered node, sample day) -> samples


@dataclass(frozen=True)
class LakeRun:
    """What a run did: the ingestion summary, the warehouse rows it leaves to the caller
    (quarantine rows, ledger rows, the batches whose earlier quarantine rows they replace),
    and the daily figures of every (node, day) partition it rewrote or re-reduced."""

    stats: IngestStats
    fresh: tuple[str, ...]
    quarantine: pa.Table
    ledger: pa.Table
    daily: pa.Table
    partitions: tuple[tuple[str, date], ...]


def _check_folder(landing_url: str, files: list[LandingFile], registry: Registry,
                  seen: dict[str, str], now: datetime, max_file_bytes: int | None) -> _Checked:
    """Task: verify, parse and validate one delivery folder's new batches."""
    con = connect(":memory:")
    try:
        _one_task_threads(con)
        con.execute("set TimeZone = 'UTC'")
        record_files(con, SOURCE, [(rel, sha, 0, 0) for rel, sha in seen.items()])
        stats = ingest_gpu_telemetry(con, landing_url, registry, now=now,
                                     max_file_bytes=max_file_bytes, files=files)
        samples = con.sql("select * from raw.gpu_samples").to_arrow_table()
        quarantine = con.sql(
            "select source, file, line, field, reason, record from raw.quarantine "
            "order by file, line, field, reason").to_arrow_table().cast(QUARANTINE_SCHEMA)
        ledger = con.sql(
            "select file, sha256, rows_loaded, rows_quarantined from raw.ingested_files "
            "where not list_contains($seen, file) order by file",
            params={"seen": list(seen)}).to_arrow_table().cast(LEDGER_SCHEMA)
    finally:
        con.close()
    refused = {f for f, sha in zip(ledger["file"].to_pylist(), ledger["sha256"].to_pylist())
               if sha.startswith("refused:")}
    fresh = tuple(f.rel for f in files if is_telemetry_delivery(f)
                  and f.rel not in seen and f.rel not in refused)
    return _Checked(stats, fresh, quarantine, ledger, split_samples(samples, registry))


def _one_task_threads(con: duckdb.DuckDBPyConnection) -> None:
    """On a Dask worker, DuckDB gets the worker's threads, not the machine's: the worker
    runs that many tasks at once, and the cluster's size is what sets the pace."""
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError):
        return  # in this process: DuckDB uses the machine
    con.execute(f"set threads = {int(threads)}")


def split_samples(samples: pa.Table, registry: Registry) -> dict[tuple[str, date], pa.Table]:
    """Valid samples (SAMPLE_SCHEMA) by lake partition: (the node the GPU is registered to,
    the sample's UTC day), each in (source file, line) order."""
    gpus = [a for a in registry.assets if a.asset_type == "gpu"]
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("_samples", samples)
        con.register("_gpu_nodes", pa.table({
            "asset_id": pa.array([a.asset_id for a in gpus], pa.string()),
            "part_node": pa.array([a.node_id for a in gpus], pa.string())}))
        keyed = con.sql("""
            select s.*, n.part_node, cast(timezone('UTC', s.ts) as date) as part_day
            from _samples s join _gpu_nodes n on n.asset_id = s.gpu_uuid
            order by n.part_node, part_day, s.source_file, s.line""").to_arrow_table()
    finally:
        con.close()
    out = {}
    if keyed.num_rows:
        keys = keyed.select(["part_node", "part_day"]).group_by(
            ["part_node", "part_day"]).aggregate([]).to_pylist()
        for k in keys:
            mask = pc.and_(pc.equal(keyed["part_node"], k["part_node"]),
                           pc.equal(keyed["part_day"], pa.scalar(k["part_day"], pa.date32())))
            out[(k["part_node"], k["part_day"])] = (
                keyed.filter(mask).select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA))
    return out


def _pieces(checked: _Checked, key: tuple[str, date]) -> pa.Table | None:
    return checked.samples.get(key)


def _keys(checked: _Checked) -> dict[tuple[str, date], int]:
    """The partitions a task's samples fall in, with their number of samples."""
    return {k: t.num_rows for k, t in checked.samples.items()}


def _summary(checked: _Checked) -> _Checked:
    """The task's result without its samples (they stay where the task ran)."""
    return _Checked(checked.stats, checked.fresh, checked.quarantine, checked.ledger, {})


def reduce_partitions(lake_url: str, work: list[tuple[str, date, list[pa.Table | None]]]
                      ) -> pa.Table:
    """Task: for each (node_id, day, new samples) of `work`, merge the new samples into
    that lake partition, deduplicated, rewrite it when that changed it, and reduce it to
    its per-GPU daily figures; returns them all (DAILY_SCHEMA), by day, node and GPU.
    One SQL pass over all the partitions of the task."""
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
        _one_task_threads(con)
        con.execute("set TimeZone = 'UTC'")
        con.register("_lake_samples", pa.concat_tables(keyed))
        merged = con.sql(_DEDUPE_SQL).to_arrow_table()
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


def reduce_partition(lake_url: str, node_id: str, day: date, *new: pa.Table | None
                     ) -> pa.Table:
    """`reduce_partitions` of one partition."""
    return reduce_partitions(lake_url, [(node_id, day, list(new))])


def delivery_folders(landing: Landing, dates: Iterable[date] | None = None
                     ) -> dict[tuple[str, str], list[LandingFile]]:
    """The zone's telemetry files by (delivery folder, node folder), in path order."""
    out: dict[tuple[str, str], list[LandingFile]] = {}
    for f in landing.list(SOURCE, folder_depth=2, dates=dates, date_index=0):
        out.setdefault((f.parts[1], f.parts[2]), []).append(f)
    return out


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


def run_gpu_telemetry(landing_url: str | Path, lake_url: str | Path, registry: Registry,
                      seen: dict[str, str], *, dates: Iterable[date] | None = None,
                      now: datetime | None = None, max_file_bytes: int | None = None,
                      scheduler: str | None = None, task_bytes: int = TASK_BYTES,
                      task_samples: int = TASK_SAMPLES) -> LakeRun:
    """Check the telemetry deliveries under `landing_url` that are not in `seen` (the
    file ledger: relative path -> sha256), write their samples to the lake at `lake_url`
    and reduce the partitions they touch; on the cluster at `scheduler` (default
    AIDNAV_DASK_SCHEDULER), else in this process.

    A task checks whole delivery folders, about `task_bytes` of them, and reduces whole
    partitions, about `task_samples` samples: a small day is one task of each kind, a
    large one is spread over the workers. The cut depends on the inputs alone."""
    t0 = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    landing_url, lake_url = str(landing_url), str(lake_url)
    landing = Landing(landing_url)
    # every delivery is read again: the ledger is compared with its bytes (a batch that
    # changed after it was ingested is quarantined)
    folders = [files for _, files in sorted(delivery_folders(landing, dates).items())]
    sizes = _sizes(landing)
    bundles = _bundles(folders, [sum(_weight(f, sizes) for f in fs) for fs in folders],
                       task_bytes)
    with dask_scheduler(scheduler) as sched:
        # keys are never reused: a later run's tasks read a landing zone and a lake that
        # may have changed, so no result of an earlier one may stand in for them
        tasks = [delayed(_check_folder, pure=False)(
                     landing_url, [f for fs in bundle for f in fs], registry,
                     {f.rel: seen[f.rel] for fs in bundle for f in fs if f.rel in seen},
                     now, max_file_bytes)
                 for bundle in bundles]
        checked = dask.persist(*tasks, scheduler=sched)
        summaries, keys = dask.compute([delayed(_summary)(c) for c in checked],
                                       [delayed(_keys)(c) for c in checked], scheduler=sched)
        by_partition: dict[tuple[str, date], list[Any]] = {}
        rows: dict[tuple[str, date], int] = {}
        for c, ks in zip(checked, keys):
            for k, n in ks.items():
                by_partition.setdefault(k, []).append(delayed(_pieces)(c, k))
                rows[k] = rows.get(k, 0) + n
        parts = sorted(by_partition, key=lambda k: (k[1], k[0]))
        work = _bundles(parts, [rows[k] for k in parts], task_samples)
        reduced = dask.compute(*[delayed(reduce_partitions, pure=False)(
            lake_url, [(node, day, by_partition[(node, day)]) for node, day in bundle])
            for bundle in work], scheduler=sched) if work else ()
        del checked
    daily = (pa.concat_tables(reduced) if reduced else DAILY_SCHEMA.empty_table())
    stats = IngestStats(SOURCE, sum(s.stats.files_read for s in summaries),
                        sum(s.stats.files_skipped for s in summaries),
                        sum(s.stats.rows_loaded for s in summaries),
                        sum(s.stats.rows_quarantined for s in summaries),
                        time.perf_counter() - t0)
    return LakeRun(
        stats=stats,
        fresh=tuple(sorted(r for s in summaries for r in s.fresh)),
        quarantine=pa.concat_tables([s.quarantine for s in summaries])
        if summaries else QUARANTINE_SCHEMA.empty_table(),
        ledger=pa.concat_tables([s.ledger for s in summaries])
        if summaries else LEDGER_SCHEMA.empty_table(),
        daily=daily, partitions=tuple(parts))


def _weight(f: LandingFile, sizes: dict[str, int]) -> int:
    size = sizes.get(f.path, 0)
    return size if codec_of(f.rel) == "none" else size * COMPRESSED_WEIGHT


def _sizes(landing: Landing) -> dict[str, int]:
    """Path -> size of every telemetry file (one listing, for cutting the work)."""
    base = f"{landing.root}/{SOURCE}"
    if not landing.fs.exists(base):
        return {}
    return {p.rstrip("/"): int(info.get("size") or 0)
            for p, info in landing.fs.find(base, detail=True).items()}


__all__ = ["CONNECT_TIMEOUT_S", "DAILY_SCHEMA", "LakeRun", "SCHEDULER_ENV",
           "SchedulerUnreachable", "dask_scheduler", "delivery_folders", "reduce_partition",
           "reduce_partitions", "run_gpu_telemetry", "split_samples"]
