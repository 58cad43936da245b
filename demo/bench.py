"""Benchmark the daily job on a synthetic fleet sampled once a minute.

`run_bench(gpus, robots, days, json_out)` writes a demo book (the demo generator with
`sample_interval_s=60` unless told otherwise, its scale chosen from `gpus`; the robot
count follows the scale, `robots` is reported next to the count the book has) into a
temporary data directory, starts its own local anvil with the contracts and the book's
on-chain history (none of this is timed), then runs the `daily_nav` job over the days
exactly as an operator does (`aidnav run --start .. --end ..`, a Dagster run in its own
process) and reads from the run's event log how long each stage took:

- ingest: the registry and every landing file into `raw` (signatures verified, records
  checked, quarantine) and the chain events read from the RPC node;
- dbt: `dbt build` over the window (every model and dbt test);
- checks: every asset check of the job (the expectation suites, the reconciliations
  against the chain, the business flags and the pre-flight);
- publish: the NAV and rewards root of every day posted to the local chain (real
  transactions), then the exports and the HTML report;

`total` is the job's wall time, start-up and Dagster's own work included. Peak memory is
the resident set size of the job's process and its children (dbt) together, sampled every
50 ms; each stage reports the peak seen while its steps ran.

The GPU batches are delivered compressed as the node agent writes them (zstd unless told
otherwise): the demo's batches are compressed and signed again by their node's key before
the clock starts.

The baseline does the least honest work over the same batches, in a fresh process: every
batch's signature verified, then one DuckDB pass (BASELINE_SQL: parse, validate,
deduplicate, energy deltas, group by GPU and day). Its per-GPU daily figures are compared
with the job's (`baseline_equals_pipeline`).

With Dask worker counts (`--dask-workers 1,2`), a real `dask scheduler` and that many
single-threaded `dask worker` processes are started for each count: the job runs with
AIDNAV_DASK_SCHEDULER at the first cluster, and the telemetry stage (the lake engine,
`ingestion.lake.engine`) is timed from scratch on each, into a lake of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

if TYPE_CHECKING:
    from ingestion.registry import Registry

DEMO_GPUS_AT_SCALE_1 = 1200
BENCH_END_DAY = date(2026, 3, 1)
BENCH_DIR_PREFIX = "aidnav-bench-"

# The baseline's one DuckDB pass, after every batch's signature was checked in Python:
# parse every line of the verified batches (compressed or not), keep the plausible samples
# of registered GPUs signed by their node's key (the bounds of ingestion.bounds, ts with a
# UTC offset and before the delivery folder's limit), count each (gpu_uuid, ts) once (the
# copy of the first file by path), take the energy counter's positive deltas as
# int_gpu_samples_daily and fct_gpu_operation_daily do, and group by GPU and day. It writes
# nothing, keeps no quarantine reasons, no ledger, no warehouse, no marts, no chain.
BASELINE_SQL = """
with lines as (
    select * from read_json({files}, format = 'newline_delimited', filename = true,
                            ignore_errors = true, maximum_object_size = {max_line},
                            columns = {{ts: 'varchar', node_id: 'varchar',
                                        gpu_uuid: 'varchar', gpu_util_pct: 'double',
                                        mem_util_pct: 'double', mem_used_mib: 'double',
                                        power_w: 'double', energy_mj: 'decimal(38,6)',
                                        temp_c: 'double', sm_clock_mhz: 'double',
                                        xid_errors: 'integer', ecc_dbe_count: 'integer',
                                        serial: 'varchar', pci_bus_id: 'varchar'}})
),
plausible as (
    select l.*, try_cast(l.ts as timestamptz) as ts_parsed
    from lines l
    where regexp_full_match(l.ts, '{ts_re}')
      and {bounds}
),
valid as (
    select l.gpu_uuid as asset_id, l.ts_parsed as ts, l.filename, l.gpu_util_pct,
           l.energy_mj
    from plausible l
    join _baseline_files f on f.path = l.filename
    join _baseline_gpus g on g.asset_id = l.gpu_uuid and g.node_address = f.signer
    where l.ts_parsed < f.ts_limit
),
samples as (
    select asset_id, timezone('UTC', ts) as ts_utc, cast(timezone('UTC', ts) as date) as day,
           cast(gpu_util_pct as decimal(38, 6)) as util, energy_mj
    from valid
    qualify row_number() over (partition by asset_id, ts
                               order by filename, energy_mj, gpu_util_pct) = 1
),
deltas as (
    select *,
        energy_mj - lag(energy_mj) over (partition by asset_id, day order by ts_utc) as delta_mj,
        epoch(ts_utc) - epoch(lag(ts_utc) over (partition by asset_id, day order by ts_utc))
            as elapsed_s
    from samples
),
per_day as (
    select day, asset_id, count(*) as valid_samples, sum(util) as util_sum,
           coalesce(sum(case when delta_mj > {max_power_w} * 1000 * elapsed_s then 0
                             else greatest(delta_mj, 0) end), 0) as energy_in_day_mj,
           arg_min(energy_mj, ts_utc) as first_energy_mj,
           arg_max(energy_mj, ts_utc) as last_energy_mj
    from deltas group by day, asset_id
)
select day, asset_id, cast(valid_samples as integer) as valid_samples,
       cast(util_sum as decimal(38, 6)) as util_sum,
       cast(energy_in_day_mj + coalesce(greatest(first_energy_mj - lag(last_energy_mj)
            over (partition by asset_id order by day), 0), 0) as decimal(38, 6)) as energy_mj
from per_day
qualify day between date '{first}' and date '{day}'
order by day, asset_id
"""


def _bounds_sql() -> str:
    """The plausibility bounds of a sample, from ingestion.bounds (the required fields must
    be present, the optional ones within bounds when present)."""
    from ingestion.bounds import GPU_NUMERIC, sql_number

    required = {"gpu_util_pct", "power_w", "temp_c", "energy_mj"}
    terms = []
    for name, (lo, hi) in GPU_NUMERIC.items():
        inside = f"l.{name} between {sql_number(lo)} and {sql_number(hi)}"
        if name not in ("energy_mj", "xid_errors", "ecc_dbe_count"):
            inside = f"isfinite(l.{name}) and {inside}"
        terms.append(inside if name in required else f"(l.{name} is null or {inside})")
    return "\n      and ".join(terms)


def _rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MB (0 when it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass(frozen=True)
class Baseline:
    """The baseline's result: per (day, GPU) of the window, valid samples, utilisation sum
    and energy (mJ, the counter's counted deltas), and where its time went."""

    rows: list[tuple[date, str, int, Decimal, Decimal]]
    batches: int
    signatures_s: float
    sql_s: float

    @property
    def samples(self) -> int:
        return sum(r[2] for r in self.rows)


def baseline_gpu_days(data_dir: Path, first: date, day: date,
                      now: datetime | None = None, registry: Registry | None = None
                      ) -> Baseline:
    """The least honest work over the GPU batches of `<data_dir>/landing`: every batch's
    sha256 and signature verified against its node's registered key, then BASELINE_SQL,
    one DuckDB pass over the verified batches; the per-GPU daily figures of first..day.
    The registry is `<data_dir>/registry`'s unless given."""
    import duckdb
    import pyarrow as pa

    from ingestion.bounds import GPU_NUMERIC, LINE_MAX_BYTES, sql_number
    from ingestion.compression import is_jsonl_delivery
    from ingestion.jsonl_lines import TS_WITH_OFFSET
    from ingestion.nvml.ingest import SOURCE, ts_limit
    from ingestion.nvml.signature import verify_batch
    from ingestion.registry import parse_registry

    now = now or datetime.now(timezone.utc)
    t0 = time.perf_counter()
    registry = registry or parse_registry(data_dir / "registry")
    gpus = [a for a in registry.assets if a.asset_type == "gpu"]
    files: list[tuple[str, str, datetime]] = []  # (path, signer, ts limit)
    batches = 0
    for path in sorted((data_dir / "landing" / SOURCE).glob("*/*/*")):
        if not is_jsonl_delivery(path.name) or not path.is_file():
            continue
        batches += 1
        sig = path.with_name(path.name + ".sig")
        node_id, folder = path.parent.name, path.parent.parent.name
        verdict = verify_batch(path.read_bytes(), sig.read_bytes() if sig.is_file() else None,
                               registry.node_address(node_id), node_id)
        limit = ts_limit(folder, now)
        if verdict.reason is None and limit is not None:
            files.append((str(path), verdict.signer or "", limit[0]))
    signatures_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'; set enable_progress_bar = false")
        con.register("_baseline_files", pa.table(
            {"path": [f[0] for f in files], "signer": [f[1] for f in files],
             "ts_limit": pa.array([f[2] for f in files], pa.timestamp("us", tz="UTC"))}))
        con.register("_baseline_gpus", pa.table(
            {"asset_id": [a.asset_id for a in gpus],
             "node_address": [(a.node_address or "").lower() for a in gpus]}))
        rows = []
        if files:
            sql = BASELINE_SQL.format(
                files="[" + ", ".join("'" + f[0].replace("'", "''") + "'" for f in files) + "]",
                max_line=LINE_MAX_BYTES[SOURCE], ts_re=TS_WITH_OFFSET.replace("'", "''"),
                bounds=_bounds_sql(), max_power_w=sql_number(GPU_NUMERIC["power_w"][1]),
                first=first.isoformat(), day=day.isoformat())
            rows = [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()
    return Baseline(rows, batches, signatures_s, time.perf_counter() - t0)


def compress_gpu_batches(data_dir: Path, codec: str) -> int:
    """Deliver the demo book's GPU batches as the node agent does: each `<batch>.jsonl`
    compressed with `codec` as `<batch>.jsonl.<zst|gz>`, its `.sig` signed again by the
    node's key over the compressed bytes, the plain file and its `.sig` removed. Returns
    the number of batches compressed."""
    from demo.book import node_key_name
    from demo.gpu_telemetry import sign_batch
    from ingestion.compression import CODECS, JSONL, compress
    from ingestion.nvml.ingest import SOURCE

    if codec == "none":
        return 0
    done = 0
    for plain in sorted((data_dir / "landing" / SOURCE).glob(f"*/*/*{JSONL}")):
        packed = compress(plain.read_bytes(), codec)
        target = plain.with_name(plain.name + CODECS[codec])
        target.write_bytes(packed)
        target.with_name(target.name + ".sig").write_bytes(
            sign_batch(packed, node_key_name(plain.parent.name)))
        plain.with_name(plain.name + ".sig").unlink(missing_ok=True)
        plain.unlink()
        done += 1
    return done


def landing_bytes(data_dir: Path) -> int:
    """Bytes of the GPU batches as delivered (their .sig files left out)."""
    from ingestion.compression import is_jsonl_delivery
    from ingestion.nvml.ingest import SOURCE

    return sum(p.stat().st_size for p in (data_dir / "landing" / SOURCE).glob("*/*/*")
               if is_jsonl_delivery(p.name))


def _bin(name: str) -> str:
    import sys

    return str(Path(sys.executable).parent / name)


@contextmanager
def dask_cluster(workers: int, log_dir: Path) -> Iterator[tuple[str, list[int]]]:
    """A real Dask cluster on this machine: `dask scheduler` and `workers` processes of
    `dask worker` with one thread each, from the project's environment; yields the
    scheduler's address and the pids of the worker processes, and stops them all on exit."""
    import signal
    import subprocess

    from distributed import Client

    from onchain.testing import free_port

    if workers < 1:
        raise ValueError(f"bench: --dask-workers must be at least 1, got {workers}")
    log_dir.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    from aidnav.config import REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs: list[subprocess.Popen] = []

    def spawn(cmd: list[str], log: str) -> subprocess.Popen:
        with open(log_dir / log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, start_new_session=True,
                                    stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        spawn([_bin("dask"), "scheduler", "--host", "127.0.0.1", "--port",
               address.rsplit(":", 1)[1], "--no-dashboard"], "scheduler.log")
        worker_procs = [spawn([_bin("dask"), "worker", address, "--nthreads", "1",
                               "--nworkers", "1", "--no-dashboard", "--name", f"bench-{i}",
                               # the engine imported at start, as a long-lived worker has
                               "--preload", "ingestion.lake.engine",
                               "--local-directory", str(log_dir / f"worker-{i}")],
                              f"worker-{i}.log") for i in range(workers)]
        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(workers, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"bench: the Dask cluster at {address} did not start "
                                       f"with {workers} worker(s): see {log_dir}") from None
                time.sleep(0.5)
        yield address, [p.pid for p in worker_procs]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def time_telemetry_stage(landing: Path, registry: str, lake: Path, address: str, workers: int,
                         worker_pids: list[int], out: Path) -> dict[str, Any]:
    """The telemetry stage (ingestion.lake.engine: every batch checked, deduplicated and
    reduced per (node, day)) run from scratch over `landing` into `lake`, on the cluster at
    `address` (empty: in the client's process), its client in a fresh process: its
    seconds, throughput, partitions, the lake's bytes, and the peak RSS of the client and
    the workers together, and of the workers alone. `registry` is a registry folder, or
    `bench:N` for the synthetic fleet of N GPUs (`demo.bench_gpu.synth_registry`)."""
    import subprocess
    import sys

    code = ("import sys; from demo.bench import _telemetry_main; "
            "_telemetry_main(*sys.argv[1:])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(landing), registry, str(lake),
                             address, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    rss = _TreeRss([proc.pid, *worker_pids]).start()
    worker_rss = _TreeRss(worker_pids).start()
    output, _ = proc.communicate()
    rss.stop()
    worker_rss.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"bench: the telemetry stage on {workers} Dask worker(s) failed "
                           f"(exit {proc.returncode}):\n{output}")
    run = json.loads(out.read_text())
    seconds, parts = run["seconds"], run["partitions"]
    return {
        "workers": workers, "seconds": round(seconds, 3), "samples": run["samples"],
        "quarantined": run["quarantined"], "partitions": parts,
        "samples_per_s": round(run["samples"] / seconds) if seconds else None,
        "worker_seconds_per_partition": round(seconds * max(workers, 1) / parts, 4)
        if parts else None,
        "lake_bytes": sum(p.stat().st_size for p in lake.rglob("*.parquet")),
        "peak_rss_mb": round(rss.peak(), 1),
        "workers_peak_rss_mb": round(worker_rss.peak(), 1) if worker_pids else None,
    }


def _telemetry_main(landing: str, registry: str, lake: str, address: str, out: str) -> None:
    from ingestion.lake.engine import run_gpu_telemetry
    from ingestion.registry import parse_registry

    if registry.startswith("bench:"):
        from demo.bench_gpu import synth_registry

        reg = synth_registry(int(registry.removeprefix("bench:")))
    else:
        reg = parse_registry(Path(registry))
    t0 = time.perf_counter()
    run = run_gpu_telemetry(landing, lake, reg, {}, scheduler=address)
    seconds = time.perf_counter() - t0
    Path(out).write_text(json.dumps({
        "seconds": seconds, "samples": run.stats.rows_loaded,
        "quarantined": run.stats.rows_quarantined, "partitions": len(run.partitions)}))


class _TreeRss:
    """Samples the RSS of processes and all their descendants together, with timestamps."""

    def __init__(self, pids: int | list[int], interval_s: float = 0.05,
                 alone: tuple[int, ...] = ()):
        self.pids = [pids] if isinstance(pids, int) else list(pids)
        self.alone = alone  # processes counted without their children
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []  # (unix time, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, todo = set(self.alone), list(self.pids)
        while todo:
            pid = todo.pop()
            if pid not in tree:
                tree.add(pid)
                todo += parents.get(pid, [])
        return sorted(tree)

    def _rss(self) -> float:
        return sum(_rss_mb(pid) for pid in self._tree())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), self._rss()))
            except OSError:  # a process left /proc while it was listed: sample again
                pass
            self._stop.wait(self.interval_s)

    def start(self) -> "_TreeRss":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, windows: list[tuple[float, float]] | None = None) -> float:
        values = [mb for t, mb in self.samples
                  if windows is None or any(lo <= t <= hi for lo, hi in windows)]
        return max(values, default=0.0)


STAGES = ("ingest", "dbt", "checks", "publish")


def stage_of(step_key: str, check_names: set[str]) -> str:
    """The bench stage a step of the `daily_nav` job belongs to: a check's step key is its
    asset's key then the check's name (`marts__fct_nav_daily_nav_ready_to_publish`)."""
    if any(step_key.endswith("_" + name) for name in check_names):
        return "checks"
    if step_key.startswith(("raw", "registry")):
        return "ingest"
    if "dbt" in step_key:
        return "dbt"
    return "publish"  # the publication, then the exports and the report


def _step_windows(dagster_home: Path) -> tuple[str, dict[str, list[tuple[float, float]]],
                                               dict[str, str]]:
    """The job's run (the only one in the bench's Dagster home): its id, and per stage the
    (start, end) unix times of its steps, from its event log."""
    from orchestration.run_steps import last_run_steps, quality_check_names

    check_names = quality_check_names()
    windows: dict[str, list[tuple[float, float]]] = {k: [] for k in STAGES}
    stage_by_step: dict[str, str] = {}
    run_id, steps = last_run_steps(dagster_home)
    for step_key, start, end in steps:
        stage = stage_of(step_key, check_names)
        stage_by_step[step_key] = stage
        windows[stage].append((start, end))
    return run_id, windows, stage_by_step


def _run_job(first: date, end: date, env: dict[str, str], also: tuple[int, ...] = ()
             ) -> tuple[int, str, float, _TreeRss]:
    """`aidnav run` over first..end in its own process; its output, wall time and RSS
    (with that of the processes `also`, the Dask workers it runs on)."""
    import subprocess
    import sys

    aidnav = Path(sys.executable).parent / "aidnav"
    cmd = [str(aidnav), "run", "--start", first.isoformat(), "--end", end.isoformat()]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    rss = _TreeRss([proc.pid, *also]).start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    rss.stop()
    return proc.returncode, output, seconds, rss


def _run_baseline(data_dir: Path, first: date, end: date, out: Path
                  ) -> tuple[Baseline, float, float]:
    """baseline_gpu_days in a fresh Python process, as the job runs in its own: the
    baseline, its process's wall time (start-up included) and peak RSS."""
    import subprocess
    import sys

    code = ("import sys; from demo.bench import _baseline_main; "
            "_baseline_main(*sys.argv[1:])")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(data_dir), first.isoformat(),
                             end.isoformat(), str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    rss = _TreeRss(proc.pid).start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    rss.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"bench: the baseline failed (exit {proc.returncode}):\n{output}")
    doc = json.loads(out.read_text())
    rows = [(date.fromisoformat(d), a, int(n), Decimal(u), Decimal(e))
            for d, a, n, u, e in doc["rows"]]
    return Baseline(rows, doc["batches"], doc["signatures_s"], doc["sql_s"]), seconds, rss.peak()


def _baseline_main(data_dir: str, first: str, end: str, out: str) -> None:
    base = baseline_gpu_days(Path(data_dir), date.fromisoformat(first), date.fromisoformat(end))
    Path(out).write_text(json.dumps({
        "rows": [[d.isoformat(), a, n, str(u), str(e)] for d, a, n, u, e in base.rows],
        "batches": base.batches, "signatures_s": base.signatures_s, "sql_s": base.sql_s}))


def pipeline_gpu_days(warehouse: Path, first: date, end: date
                      ) -> list[tuple[date, str, int, Decimal, Decimal]]:
    """The job's per-GPU daily figures of first..end in the baseline's shape: (day, GPU,
    valid samples, utilisation sum, energy in mJ), from marts.fct_gpu_operation_daily
    (GPU-days with samples; the utilisation sum and the energy as the mart derives its
    average and kWh from them)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [tuple(r) for r in con.execute("""
            select g.day, g.asset_id, g.valid_samples, d.util_sum,
                   cast(d.energy_in_day_mj + coalesce(greatest(d.first_energy_mj - (
                       select arg_max(p.last_energy_mj, p.day)
                       from intermediate.int_gpu_samples_daily p
                       where p.asset_id = d.asset_id and p.day < d.day), 0), 0)
                       as decimal(38, 6))
            from marts.fct_gpu_operation_daily g
            join intermediate.int_gpu_samples_daily d using (day, asset_id)
            where g.day between ? and ? and g.valid_samples > 0
            order by g.day, g.asset_id""", [first, end]).fetchall()]


def _parse_workers(spec: str | list[int] | None) -> list[int]:
    if spec is None or spec == "":
        return []
    if isinstance(spec, list):
        return spec
    try:
        sizes = [int(x) for x in str(spec).split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise ValueError(f"bench: --dask-workers {spec!r}: expected worker counts of at least "
                         "1, comma-separated (1,2)")
    return sizes


def run_bench(gpus: int, robots: int, days: int, json_out: bool,
              work_dir: Path | None = None, keep: bool = False,
              sample_interval_s: int = 60, compression: str | None = None,
              dask_workers: str | list[int] | None = None) -> dict[str, Any]:
    """Synthesise, run the daily job, print the table (and with `json_out` one JSON object
    on the last line); returns that object plus details.

    `work_dir` keeps the fleet, the landing zone and the warehouse (it must be new or
    empty); without it a temporary folder is used and removed. `compression` is the codec
    of the GPU batches as delivered (the node agent's default). `dask_workers` ("1,2"):
    a real Dask cluster of that many single-threaded workers is started for each count;
    the job runs with AIDNAV_DASK_SCHEDULER at the first, and the telemetry stage (the
    lake engine) is timed from scratch on each."""
    import duckdb

    from aidnav.config import Settings
    from demo.prepare import prepare_book
    from ingestion.compression import CODECS
    from ingestion.lake.lake import LAKE_URL_ENV, Lake
    from ingestion.nvml.agent import DEFAULT_COMPRESSION
    from onchain import anvil
    from onchain.testing import free_port

    compression = compression or DEFAULT_COMPRESSION
    if compression not in CODECS:
        raise ValueError(f"bench: --compress {compression!r}: expected one of "
                         f"{', '.join(CODECS)}")
    sizes = _parse_workers(dask_workers)
    if gpus <= 0 or days <= 0:
        raise ValueError(f"bench: gpus and days must be positive, got gpus={gpus} days={days}")
    if work_dir is not None and Path(work_dir).exists() and any(Path(work_dir).iterdir()):
        raise ValueError(f"bench: --work-dir {work_dir} is not empty: expected a new or empty "
                         "folder to keep the fleet, landing zone and warehouse in")
    root = (Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=BENCH_DIR_PREFIX)))
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    data_dir = root / "data"
    end = BENCH_END_DAY
    first = end - timedelta(days=days - 1)
    settings = Settings(data_dir=data_dir, rpc_url=f"http://127.0.0.1:{free_port()}",
                        chain_id=None)
    dagster_home = root / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").touch()  # the defaults: storage under dagster_home
    env = {**os.environ, "AIDNAV_DATA_DIR": str(data_dir), "AIDNAV_RPC_URL": settings.rpc_url,
           "AIDNAV_WAREHOUSE": str(settings.warehouse_path), "DAGSTER_HOME": str(dagster_home),
           LAKE_URL_ENV: str(data_dir / "lake"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("AIDNAV_CHAIN_ID", None)
    env.pop("AIDNAV_DASK_SCHEDULER", None)
    scale = gpus / DEMO_GPUS_AT_SCALE_1
    bar = tqdm(total=3 + len(sizes), desc="bench", unit="stage", disable=json_out)
    telemetry: list[dict[str, Any]] = []
    job_uses_lake = False
    try:
        bar.set_postfix_str("synthesise the book and its chain")
        t0 = time.perf_counter()
        prepare_book(settings, days, end, scale=scale, sample_interval_s=sample_interval_s,
                     progress=not json_out)
        compressed = compress_gpu_batches(data_dir, compression)
        synthesise_s = time.perf_counter() - t0
        delivered = landing_bytes(data_dir)
        bar.update()
        bar.set_postfix_str(f"daily_nav {first} .. {end}")
        with contextlib.ExitStack() as stack:
            workers_of_job: list[int] = []
            if sizes:
                address, workers_of_job = stack.enter_context(
                    dask_cluster(sizes[0], root / "dask" / "job"))
                env["AIDNAV_DASK_SCHEDULER"] = address
            rc, output, total, rss = _run_job(first, end, env, tuple(workers_of_job))
        if rc != 0:
            causes = [line for line in output.splitlines() if "fail" in line.lower()]
            raise RuntimeError(f"bench: the daily job failed (exit {rc}):\n"
                               + "\n".join(causes[:40] or output.splitlines()[-40:]))
        job_uses_lake = bool(Lake(data_dir / "lake").partitions())
        bar.update()
        bar.set_postfix_str("baseline")
        base, baseline_s, baseline_peak = _run_baseline(data_dir, first, end,
                                                        root / "baseline.json")
        bar.update()
        for n in sizes:
            bar.set_postfix_str(f"telemetry stage on {n} Dask worker(s)")
            with dask_cluster(n, root / "dask" / f"{n}-workers") as (address, pids):
                telemetry.append(time_telemetry_stage(
                    data_dir / "landing", str(data_dir / "registry"),
                    root / "lake-engine" / f"{n}-workers", address, n, pids,
                    root / f"telemetry-{n}-workers.json"))
            bar.update()
        bar.close()

        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            n_gpus, n_robots = con.execute(
                "select count(*) filter (where asset_type = 'gpu'), "
                "count(*) filter (where asset_type = 'robot') from raw.assets").fetchone()
            nav = con.execute("select nav_usd from marts.fct_nav_daily where day = ?",
                              [end]).fetchone()
            posted = con.execute("select count(*) from marts.publications").fetchone()[0]
        pipeline_rows = pipeline_gpu_days(settings.warehouse_path, first, end)
        run_id, windows, stage_by_step = _step_windows(dagster_home)
    finally:
        bar.close()
        anvil.stop(settings.chain_dir)
        if not keep and work_dir is None:
            shutil.rmtree(root, ignore_errors=True)

    rows = sum(r[2] for r in pipeline_rows)
    seconds = {k: sum(hi - lo for lo, hi in windows[k]) for k in STAGES}
    seconds["total"] = total
    peaks = {k: rss.peak(windows[k]) for k in STAGES}
    result: dict[str, Any] = {
        "gpus": int(n_gpus), "robots": int(n_robots), "days": days,
        "end_day": end.isoformat(), "rows": rows,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "baseline_seconds": round(baseline_s, 3),
        "ratio": round(total / baseline_s, 2) if baseline_s else None,
        "peak_rss_mb": round(rss.peak(), 1),
        "compression": compression, "landing_bytes": delivered,
        "bytes_per_sample": round(delivered / rows, 2) if rows else None,
        "telemetry": telemetry,
        "telemetry_in_daily_job": job_uses_lake,
        "job_dask_workers": sizes[0] if sizes else 0,
        "work_dir": str(root) if work_dir is not None or keep else None,
    }
    details = {
        "requested": {"gpus": gpus, "robots": robots},
        "sample_interval_s": sample_interval_s, "synthesise_seconds": round(synthesise_s, 3),
        "batches_compressed": compressed,
        "peak_rss_mb_by_stage": {k: round(v, 1) for k, v in peaks.items()},
        "baseline_peak_rss_mb": round(baseline_peak, 1),
        "baseline_signatures_seconds": round(base.signatures_s, 3),
        "baseline_sql_seconds": round(base.sql_s, 3), "baseline_batches": base.batches,
        "other_seconds": round(total - sum(seconds[k] for k in STAGES), 3),
        "nav_usd": str(nav[0]) if nav else None,
        "baseline_samples": base.samples, "baseline_gpu_days": len(base.rows),
        "baseline_equals_pipeline": base.rows == pipeline_rows,
        "publications": int(posted),
        "run_id": run_id, "steps": stage_by_step, "at": datetime.now(timezone.utc).isoformat(),
    }
    _print_table(result, details, json_out)
    return {**result, "details": details}


def _print_table(result: dict[str, Any], details: dict[str, Any], json_out: bool) -> None:
    peaks = details["peak_rss_mb_by_stage"]
    print(f"aidnav bench: {result['gpus']} GPUs, {result['robots']} robots "
          f"(asked {details['requested']['gpus']}/{details['requested']['robots']}), "
          f"{result['days']} day(s) to {result['end_day']}, {result['rows']:,} GPU samples, "
          f"{result['landing_bytes']:,} bytes delivered ({result['compression']}, "
          f"{result['bytes_per_sample']} B/sample); "
          f"synthesis {details['synthesise_seconds']:.1f} s (not counted)")
    print(f"{'stage':<22}{'seconds':>10}{'peak RSS MB':>14}")
    for stage in STAGES:
        print(f"{stage:<22}{result['seconds'][stage]:>10.2f}{peaks[stage]:>14.0f}")
    print(f"{'(start-up, other)':<22}{details['other_seconds']:>10.2f}")
    print(f"{'job total':<22}{result['seconds']['total']:>10.2f}{result['peak_rss_mb']:>14.0f}")
    print(f"{'baseline':<22}{result['baseline_seconds']:>10.2f}"
          f"{details['baseline_peak_rss_mb']:>14.0f}   (signatures "
          f"{details['baseline_signatures_seconds']:.2f} s, one DuckDB pass "
          f"{details['baseline_sql_seconds']:.2f} s)")
    where = ("the job's telemetry stage again, from scratch"
             if result["telemetry_in_daily_job"]
             else "the lake engine on its own: the daily job does not use it yet")
    for t in result["telemetry"]:
        print(f"{'telemetry, ' + str(t['workers']) + ' worker(s)':<22}{t['seconds']:>10.2f}"
              f"{t['peak_rss_mb']:>14.0f}   ({t['samples_per_s']:,} samples/s, "
              f"{t['partitions']} partitions; {where})")
    same = "equal" if details["baseline_equals_pipeline"] else "NOT equal"
    print(f"ratio pipeline / baseline: {result['ratio']}x  (NAV {details['nav_usd']}; the "
          f"baseline's {details['baseline_gpu_days']:,} per-GPU daily figures are {same} to "
          f"the job's)")
    if json_out:
        print(json.dumps(result, sort_keys=True))
