"""Benchmark the daily pipeline on a synthetic fleet sampled once a minute.

`run_bench(gpus, robots, days, json_out)` writes a demo book (the demo generator with
`sample_interval_s=60`, its scale chosen from `gpus`; the robot count follows the scale,
`robots` is reported next to the count the book has) into a temporary data directory, then
times each stage in this process:

- ingest: registry CSVs and every landing file into `raw` (signatures verified, records
  checked, quarantine), the production loaders (`aidnav.replay.load_inputs`);
- dbt: `dbt build` over the days (every model and dbt test);
- checks: the NAV identity and the business flags of `quality.flags`;
- publish: a dry run: the canonical NAV and rewards reports of every day written and
  hashed (`write_day_reports`); no chain is involved, nothing is sent;

and a baseline: one hand-written DuckDB SQL script over the same landing files that
produces the same day's NAV-shaped figure (see BASELINE_SQL for what it covers).
Peak memory is the resident set size of this process, sampled every 20 ms per stage.
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

# What the baseline covers: parse every telemetry line of the last day, deduplicate on
# (gpu_uuid, ts), per-GPU valid samples, coverage, energy (counter delta), mean
# utilisation; join the registry (assets, deals); straight-line book value per asset;
# collateral per deal; a NAV-shaped total = sum over deals of min(principal, collateral)
# plus the off-chain reserves. It does NOT verify signatures, check plausibility or
# quarantine, read invoices, robots or chain events, carry anything from inception,
# charge fees or compute rewards: it is the least work that yields a NAV-like number.
BASELINE_SQL = """
with samples as (
    select gpu_uuid, ts::timestamptz as ts, energy_mj::double as energy_mj,
           gpu_util_pct::double as util
    from read_json('{telemetry}', format = 'newline_delimited',
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
    select gpu_uuid, count(*) as valid, count(*) / {per_day}.0 as coverage,
           (max(energy_mj) - min(energy_mj)) / 3.6 as energy_kwh, avg(util) as util
    from dedup group by gpu_uuid
),
assets as (select * from read_csv('{registry}/assets.csv', header = true, all_varchar = true)),
deals as (select * from read_csv('{registry}/deals.csv', header = true, all_varchar = true)),
valued as (
    select a.deal_id,
           a.purchase_price_usd::decimal(38,18) * (1 - (1 - a.residual_pct::decimal(38,18))
             * least(1, (date '{day}' - a.acquired_date::date) / a.useful_life_days::double))
             as book_value,
           coalesce(g.coverage, 0) as coverage
    from assets a left join per_gpu g on g.gpu_uuid = a.asset_id
),
per_deal as (
    select d.deal_id, d.principal_usd::decimal(38,18) as principal,
           coalesce(sum(v.book_value), 0) as collateral
    from deals d left join valued v using (deal_id) group by all
)
select (select sum(least(principal, collateral)) from per_deal)
       + coalesce((select amount_usd::decimal(38,18) from read_csv(
           '{registry}/offchain_reserves.csv', header = true, all_varchar = true)
           where as_of::date <= date '{day}' order by as_of::date desc limit 1), 0) as nav_like,
       (select count(*) from per_gpu) as gpus,
       (select sum(valid) from per_gpu) as samples,
       (select avg(coverage) from per_gpu) as coverage
"""


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
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


def baseline_nav(data_dir: Path, day: date, sample_interval_s: int = 60) -> tuple[Any, ...]:
    """Run BASELINE_SQL for `day` over `data_dir`; returns (nav_like, gpus, samples, coverage)."""
    import duckdb

    sql = BASELINE_SQL.format(
        telemetry=f"{data_dir}/landing/gpu_telemetry/{day.isoformat()}/*/*.jsonl",
        registry=f"{data_dir}/registry", day=day.isoformat(),
        per_day=86400 // sample_interval_s)
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def run_bench(gpus: int, robots: int, days: int, json_out: bool,
              work_dir: Path | None = None, keep: bool = False) -> dict[str, Any]:
    """Synthesise, run every stage, print the table (and with `json_out` one JSON object
    on the last line); returns that object plus details."""
    import duckdb

    from aidnav.demo import generate_offchain
    from aidnav.publication import write_day_reports
    from aidnav.replay import load_inputs, run_dbt
    from quality import flags

    if gpus <= 0 or days <= 0:
        raise ValueError(f"bench: gpus and days must be positive, got gpus={gpus} days={days}")
    root = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="aidnav-bench-"))
    data_dir = root / "data"
    warehouse = data_dir / "warehouse.duckdb"
    end = BENCH_END_DAY
    window = [end - timedelta(days=days - 1 - i) for i in range(days)]
    scale = gpus / DEMO_GPUS_AT_SCALE_1
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    bar = tqdm(total=6, desc="bench", unit="stage", disable=json_out)
    try:
        bar.set_postfix_str("synthesise")
        book, seconds["synthesise"], peaks["synthesise"] = _timed(lambda: generate_offchain(
            data_dir, end, days=days, sample_interval_s=60, progress=not json_out, scale=scale))
        bar.update()
        bar.set_postfix_str("ingest")
        stats, seconds["ingest"], peaks["ingest"] = _timed(lambda: load_inputs(warehouse, data_dir))
        bar.update()
        bar.set_postfix_str("dbt")
        _, seconds["dbt"], peaks["dbt"] = _timed(
            lambda: run_dbt(warehouse, window[0], end, root / "dbt"))
        bar.update()

        def checks() -> list[str]:
            con = duckdb.connect(str(warehouse))
            try:
                problems = [f"{d}: NAV identity" for d, ok in con.execute(
                    "select day, gross_assets - fees_payable = nav_usd from marts.fct_nav_daily "
                    "where day between ? and ?", [window[0], end]).fetchall() if not ok]
                for flag in (flags.collateral_below_minimum, flags.deals_past_due,
                             flags.assets_offline, flags.invoiced_hours_above_uptime):
                    problems += [f"{flag.__name__}: {r}" for r in flag(con, window[0], end)]
                return problems
            finally:
                con.close()

        bar.set_postfix_str("checks")
        problems, seconds["checks"], peaks["checks"] = _timed(checks)
        bar.update()

        def publish() -> list[str]:
            con = duckdb.connect(str(warehouse))
            try:
                return [write_day_reports(con, data_dir / "reports", d)[1].sha256_hex
                        for d in window]
            finally:
                con.close()

        bar.set_postfix_str("publish (dry run)")
        hashes, seconds["publish"], peaks["publish"] = _timed(publish)
        bar.update()
        bar.set_postfix_str("baseline")
        base, baseline_s, peaks["baseline"] = _timed(lambda: baseline_nav(data_dir, end))
        bar.update()
        bar.close()

        con = duckdb.connect(str(warehouse))  # same configuration as in-process dbt's
        try:
            rows = con.execute("select count(*) from raw.gpu_samples").fetchone()[0]
            n_gpus, n_robots = con.execute(
                "select count(*) filter (where asset_type = 'gpu'), "
                "count(*) filter (where asset_type = 'robot') from raw.assets").fetchone()
            nav = con.execute("select nav_usd from marts.fct_nav_daily where day = ?",
                              [end]).fetchone()
        finally:
            con.close()
    finally:
        bar.close()
        if not keep and work_dir is None:
            shutil.rmtree(root, ignore_errors=True)

    total = sum(seconds[k] for k in ("ingest", "dbt", "checks", "publish"))
    seconds["total"] = total
    result: dict[str, Any] = {
        "gpus": int(n_gpus), "robots": int(n_robots), "days": days, "rows": int(rows),
        "seconds": {k: round(seconds[k], 3) for k in ("ingest", "dbt", "checks", "publish",
                                                      "total")},
        "baseline_seconds": round(baseline_s, 3),
        "ratio": round(total / baseline_s, 2) if baseline_s else None,
        "peak_rss_mb": round(max(peaks[k] for k in ("ingest", "dbt", "checks", "publish")), 1),
    }
    details = {
        "requested": {"gpus": gpus, "robots": robots}, "synthesise_seconds":
        round(seconds["synthesise"], 3), "peak_rss_mb_by_stage": {k: round(v, 1) for k, v in
                                                                  peaks.items()},
        "nav_usd": str(nav[0]) if nav else None, "baseline_nav_like": str(base[0]),
        "baseline_gpus": base[1], "baseline_samples": base[2], "flags": len(problems),
        "report_hashes": hashes, "at": datetime.now(timezone.utc).isoformat(),
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
    for stage in ("ingest", "dbt", "checks", "publish"):
        print(f"{stage:<18}{result['seconds'][stage]:>10.2f}{peaks[stage]:>14.0f}")
    print(f"{'pipeline total':<18}{result['seconds']['total']:>10.2f}{result['peak_rss_mb']:>14.0f}")
    print(f"{'baseline SQL':<18}{result['baseline_seconds']:>10.2f}{peaks['baseline']:>14.0f}")
    print(f"ratio pipeline / baseline: {result['ratio']}x  (NAV {details['nav_usd']}; "
          f"baseline NAV-shaped figure {details['baseline_nav_like']}, "
          f"{details['baseline_samples']:,} samples)")
    if json_out:
        print(json.dumps(result, sort_keys=True))
