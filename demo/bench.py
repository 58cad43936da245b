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

The baseline is one hand-written DuckDB SQL script over the same landing files that
produces a NAV-shaped figure for each day the job computes (see BASELINE_SQL for what it
covers).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

DEMO_GPUS_AT_SCALE_1 = 1200
BENCH_END_DAY = date(2026, 3, 1)

# What the baseline covers, for every day of the job's window: parse every telemetry line,
# deduplicate on (gpu_uuid, ts), per-GPU valid samples per day, coverage, energy (counter
# delta), mean utilisation; join the registry (assets, deals); straight-line book value per
# asset and day; collateral per deal and day; a NAV-shaped total per day = sum over deals
# of min(principal, collateral) plus the off-chain reserves then in force. It does NOT
# verify signatures, check plausibility or quarantine, read invoices, robots or chain
# events, carry anything from inception, charge fees, compute rewards or store anything:
# it is the least work that yields a NAV-like number for each day the job computes.
BASELINE_SQL = """
with samples as (
    select gpu_uuid, ts::timestamptz as ts, energy_mj::double as energy_mj,
           gpu_util_pct::double as util
    from read_json({telemetry}, format = 'newline_delimited',
                   columns = {{ts: 'varchar', node_id: 'varchar', gpu_uuid: 'varchar',
                               gpu_util_pct: 'double', mem_util_pct: 'double',
                               mem_used_mib: 'double', power_w: 'double',
                               energy_mj: 'double', temp_c: 'double',
                               sm_clock_mhz: 'double', xid_errors: 'integer',
                               ecc_dbe_count: 'integer', serial: 'varchar',
                               pci_bus_id: 'varchar'}})
),
dedup as (select distinct on (gpu_uuid, ts) * from samples),
per_gpu as (
    select gpu_uuid, ts::date as day, count(*) as valid, count(*) / {per_day}.0 as coverage,
           (max(energy_mj) - min(energy_mj)) / 3.6 as energy_kwh, avg(util) as util
    from dedup where ts::date between date '{first}' and date '{day}' group by all
),
days as (select unnest(generate_series(date '{first}', date '{day}', interval 1 day))::date
         as day),
assets as (select * from read_csv('{registry}/assets.csv', header = true, all_varchar = true)),
deals as (select * from read_csv('{registry}/deals.csv', header = true, all_varchar = true)),
reserves as (
    select as_of::date as as_of, amount_usd::decimal(38,18) as amount
    from read_csv('{registry}/offchain_reserves.csv', header = true, all_varchar = true)
),
valued as (
    select d.day, a.deal_id,
           a.purchase_price_usd::decimal(38,18) * (1 - (1 - a.residual_pct::decimal(38,18))
             * least(1, (d.day - a.acquired_date::date) / a.useful_life_days::double))
             as book_value,
           coalesce(g.coverage, 0) as coverage
    from assets a cross join days d
    left join per_gpu g on g.gpu_uuid = a.asset_id and g.day = d.day
),
per_deal as (
    select d.day, x.deal_id, x.principal_usd::decimal(38,18) as principal,
           coalesce(sum(v.book_value), 0) as collateral
    from deals x cross join days d
    left join valued v on v.deal_id = x.deal_id and v.day = d.day group by all
),
nav as (
    select p.day, sum(least(p.principal, p.collateral)) as deals
    from per_deal p group by p.day
),
nav_with_reserves as (
    select n.day, n.deals + coalesce(r.amount, 0) as nav_like
    from nav n asof left join reserves r on n.day >= r.as_of
)
select (select nav_like from nav_with_reserves where day = date '{day}') as nav_like,
       (select count(distinct gpu_uuid) from per_gpu) as gpus,
       (select sum(valid) from per_gpu) as samples,
       (select avg(coverage) from per_gpu) as coverage,
       (select count(*) from nav_with_reserves) as days
"""


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


class _PeakRss:
    """Samples this process's RSS while a stage runs."""

    def __init__(self, interval_s: float = 0.02):
        self.interval_s = interval_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "_PeakRss":
        self.peak = _rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    with _PeakRss() as rss:
        t0 = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t0
    return value, seconds, rss.peak


def baseline_nav(data_dir: Path, first: date, day: date,
                 sample_interval_s: int = 60) -> tuple[Any, ...]:
    """Run BASELINE_SQL for every day of first..day over `data_dir`; returns (nav_like of
    `day`, gpus, samples, mean coverage, days computed)."""
    import duckdb

    folders = [f"{data_dir}/landing/gpu_telemetry/{(first + timedelta(days=i)).isoformat()}"
               for i in range((day - first).days + 1)]
    globs = [f"{f}/*/*.jsonl" for f in folders if Path(f).is_dir()]
    sql = BASELINE_SQL.format(
        telemetry="[" + ", ".join(f"'{g}'" for g in globs) + "]",
        registry=f"{data_dir}/registry", first=first.isoformat(), day=day.isoformat(),
        per_day=86400 // sample_interval_s)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'; set enable_progress_bar = false")
        return con.execute(sql).fetchone()
    finally:
        con.close()


class _TreeRss:
    """Samples the RSS of a process and all its descendants, with timestamps."""

    def __init__(self, pid: int, interval_s: float = 0.05):
        self.pid = pid
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
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += parents.get(pid, [])
        return tree

    def _rss(self) -> float:
        return sum(_rss_mb(pid) for pid in self._tree())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._rss()))
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
    import dagster as dg

    from orchestration.checks import QUALITY_CHECKS

    check_names = {spec.name for c in QUALITY_CHECKS for spec in c.check_specs}
    windows: dict[str, list[tuple[float, float]]] = {k: [] for k in STAGES}
    stage_by_step: dict[str, str] = {}
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        started: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in started:
                stage = stage_of(entry.step_key, check_names)
                stage_by_step[entry.step_key] = stage
                windows[stage].append((started[entry.step_key], entry.timestamp))
    return run_id, windows, stage_by_step


def _run_job(first: date, end: date, env: dict[str, str]) -> tuple[int, str, float, _TreeRss]:
    """`aidnav run` over first..end in its own process; its output, wall time and RSS."""
    import subprocess
    import sys

    aidnav = Path(sys.executable).parent / "aidnav"
    cmd = [str(aidnav), "run", "--start", first.isoformat(), "--end", end.isoformat()]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    rss = _TreeRss(proc.pid).start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    rss.stop()
    return proc.returncode, output, seconds, rss


def run_bench(gpus: int, robots: int, days: int, json_out: bool,
              work_dir: Path | None = None, keep: bool = False,
              sample_interval_s: int = 60) -> dict[str, Any]:
    """Synthesise, run the daily job, print the table (and with `json_out` one JSON object
    on the last line); returns that object plus details."""
    import os

    import duckdb

    from aidnav.config import Settings
    from demo.prepare import prepare_book
    from onchain import anvil
    from onchain.testing import free_port

    if gpus <= 0 or days <= 0:
        raise ValueError(f"bench: gpus and days must be positive, got gpus={gpus} days={days}")
    root = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="aidnav-bench-"))
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
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("AIDNAV_CHAIN_ID", None)
    scale = gpus / DEMO_GPUS_AT_SCALE_1
    bar = tqdm(total=3, desc="bench", unit="stage", disable=json_out)
    try:
        bar.set_postfix_str("synthesise the book and its chain")
        t0 = time.perf_counter()
        prepare_book(settings, days, end, scale=scale, sample_interval_s=sample_interval_s,
                     progress=not json_out)
        synthesise_s = time.perf_counter() - t0
        bar.update()
        bar.set_postfix_str(f"daily_nav {first} .. {end}")
        rc, output, total, rss = _run_job(first, end, env)
        if rc != 0:
            causes = [line for line in output.splitlines() if "fail" in line.lower()]
            raise RuntimeError(f"bench: the daily job failed (exit {rc}):\n"
                               + "\n".join(causes[:40] or output.splitlines()[-40:]))
        bar.update()
        bar.set_postfix_str("baseline")
        base, baseline_s, baseline_peak = _timed(
            lambda: baseline_nav(data_dir, first, end, sample_interval_s))
        bar.update()
        bar.close()

        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            rows = con.execute("select count(*) from raw.gpu_samples").fetchone()[0]
            n_gpus, n_robots = con.execute(
                "select count(*) filter (where asset_type = 'gpu'), "
                "count(*) filter (where asset_type = 'robot') from raw.assets").fetchone()
            nav = con.execute("select nav_usd from marts.fct_nav_daily where day = ?",
                              [end]).fetchone()
            posted = con.execute("select count(*) from marts.publications").fetchone()[0]
        run_id, windows, stage_by_step = _step_windows(dagster_home)
    finally:
        bar.close()
        anvil.stop(settings.chain_dir)
        if not keep and work_dir is None:
            shutil.rmtree(root, ignore_errors=True)

    seconds = {k: sum(hi - lo for lo, hi in windows[k]) for k in STAGES}
    seconds["total"] = total
    peaks = {k: rss.peak(windows[k]) for k in STAGES}
    result: dict[str, Any] = {
        "gpus": int(n_gpus), "robots": int(n_robots), "days": days, "rows": int(rows),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "baseline_seconds": round(baseline_s, 3),
        "ratio": round(total / baseline_s, 2) if baseline_s else None,
        "peak_rss_mb": round(rss.peak(), 1),
    }
    details = {
        "requested": {"gpus": gpus, "robots": robots},
        "sample_interval_s": sample_interval_s, "synthesise_seconds":
        round(synthesise_s, 3), "peak_rss_mb_by_stage": {k: round(v, 1) for k, v in peaks.items()},
        "baseline_peak_rss_mb": round(baseline_peak, 1),
        "other_seconds": round(total - sum(seconds[k] for k in STAGES), 3),
        "nav_usd": str(nav[0]) if nav else None, "baseline_nav_like": str(base[0]),
        "baseline_gpus": base[1], "baseline_samples": base[2], "baseline_days": base[4],
        "publications": int(posted),
        "run_id": run_id, "steps": stage_by_step, "at": datetime.now(timezone.utc).isoformat(),
    }
    _print_table(result, details, json_out)
    return {**result, "details": details}


def _print_table(result: dict[str, Any], details: dict[str, Any], json_out: bool) -> None:
    peaks = details["peak_rss_mb_by_stage"]
    print(f"aidnav bench: {result['gpus']} GPUs, {result['robots']} robots "
          f"(asked {details['requested']['gpus']}/{details['requested']['robots']}), "
          f"{result['days']} day(s), {result['rows']:,} GPU samples; "
          f"synthesis {details['synthesise_seconds']:.1f} s (not counted)")
    print(f"{'stage':<18}{'seconds':>10}{'peak RSS MB':>14}")
    for stage in STAGES:
        print(f"{stage:<18}{result['seconds'][stage]:>10.2f}{peaks[stage]:>14.0f}")
    print(f"{'(start-up, other)':<18}{details['other_seconds']:>10.2f}")
    print(f"{'job total':<18}{result['seconds']['total']:>10.2f}{result['peak_rss_mb']:>14.0f}")
    print(f"{'baseline SQL':<18}{result['baseline_seconds']:>10.2f}"
          f"{details['baseline_peak_rss_mb']:>14.0f}")
    print(f"ratio pipeline / baseline: {result['ratio']}x  (NAV {details['nav_usd']}; "
          f"baseline NAV-shaped figure {details['baseline_nav_like']}, "
          f"{details['baseline_samples']:,} samples)")
    if json_out:
        print(json.dumps(result, sort_keys=True))
