"""Replay: recompute the marts of a window of days from archived inputs, without an RPC
node and without posting anything (DATA_CONTRACTS.md "Replay bundles").

`replay(input_dir, start, end, out_dir)` builds a fresh temporary warehouse, loads the
registry, the landing deliveries and `chain_events.jsonl` with the ingestion loaders, runs
`dbt build` over the window and writes one CSV per mart plus `rewards_roots.csv` and
`quarantine.csv`. Carried figures are computed from inception whatever the window.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from ledger.exact import plain_text
from modelling.dbt import dbt_build_invocation

# mart -> (csv name, columns, sort key columns after day)
MART_EXPORTS: dict[str, tuple[str, list[str], list[str]]] = {
    "fct_gpu_operation_daily": ("fct_gpu_operation_daily", [
        "day", "asset_id", "node_id", "valid_samples", "coverage", "uptime_hours",
        "avg_util_pct", "energy_kwh", "status", "offline_streak_days"], ["asset_id"]),
    "fct_robot_operation_daily": ("fct_robot_operation_daily", [
        "day", "asset_id", "records", "operating_hours", "cleaning_hours", "area_cleaned_m2",
        "status", "offline_streak_days"], ["asset_id"]),
    "fct_asset_valuation_daily": ("fct_asset_valuation_daily", [
        "day", "asset_id", "deal_id", "book_value", "market_index", "health_factor",
        "fair_value"], ["asset_id"]),
    "fct_deal_position_daily": ("fct_deal_position_daily", [
        "day", "deal_id", "structure", "principal", "receivable", "accrued_today", "income",
        "receipts", "dpd", "collateral_value", "exposure", "collateral_ratio", "ltv",
        "covenant_breach", "loss_rate", "allowance", "carrying_value", "net_income"],
        ["deal_id"]),
    "fct_nav_daily": ("fct_nav_daily", [
        "day", "carrying_value_total", "reserves_usd", "offchain_reserves_usd", "gross_assets",
        "protocol_fee", "performance_fee", "fees_payable", "nav_usd", "aid_supply",
        "backing_ratio", "said_supply", "said_assets", "share_price", "apy_7d", "apy_30d"], []),
    "fct_staker_rewards_daily": ("fct_staker_rewards_daily", [
        "day", "account", "twab", "reward_wei", "cumulative_wei"], ["account"]),
    "fct_rewards_roots_daily": ("rewards_roots", [
        "day", "root", "total_cumulative_wei", "accounts", "budget_wei", "dust_wei"], []),
    "fct_deal_stress_daily": ("fct_deal_stress_daily", [
        "day", "deal_id", "shock_pct", "collateral_value", "stressed_collateral_value",
        "exposure", "collateral_ratio", "stressed_collateral_ratio", "min_collateral_ratio",
        "stressed_covenant_breach", "break_even_haircut", "allowance", "stressed_allowance",
        "book_nav_usd", "book_stressed_nav_usd", "book_stressed_backing_ratio"],
        ["deal_id", "shock_pct"]),
}


@dataclass(frozen=True)
class ReplayResult:
    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]
    quarantined: int
    seconds: float
    ingest: dict[str, object] = field(default_factory=dict)


class ReplayError(RuntimeError):
    pass


def format_cell(value: object) -> str:
    """Exact text for CSV: decimals without trailing zeros, true/false, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def run_dbt(warehouse: Path, start: date | None, end: date | None, work_dir: Path,
            select: str | None = None, window_in_vars: bool = False) -> None:
    """Run `dbt build` in-process against `warehouse` for days start..end.

    The window goes to dbt through the environment (partial parsing stays valid between
    runs of different days), or as `--vars` when `window_in_vars` (what the CLI user and
    the scheduler pass)."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    args, window = dbt_build_invocation(start, end, window_in_vars=window_in_vars,
                                        select=select, target_path=str(work_dir / "target"),
                                        with_project=True)
    env = {"AIDNAV_WAREHOUSE": str(warehouse), **window}
    args += ["--log-path", str(work_dir / "logs"), "--quiet"]
    saved = {k: os.environ.get(k) for k in env}  # the settings' warehouse back after it
    os.environ.update(env)
    try:
        result = dbtRunner().invoke(args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if not result.success:
        failures = []
        for r in (result.result or []):
            status = str(getattr(r, "status", ""))
            if status.lower() not in ("success", "pass"):
                failures.append(f"{r.node.name}: {status}: {getattr(r, 'message', '')}")
        raise ReplayError("dbt build failed: " + ("; ".join(failures) or str(result.exception)))


def export_marts(warehouse: Path, start: date, end: date, out_dir: Path) -> dict[str, int]:
    """Write `<mart>.csv`, `rewards_roots.csv` and `quarantine.csv` for days start..end."""
    import duckdb

    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))  # same configuration as the in-process dbt connection
    counts: dict[str, int] = {}
    try:
        for mart, (name, columns, keys) in MART_EXPORTS.items():
            rows = con.execute(
                f"select {', '.join(columns)} from marts.{mart} "
                f"where day between ? and ? order by {', '.join(['day'] + keys)}",
                [start, end]).fetchall()
            counts[name] = _write_csv(out_dir / f"{name}.csv", columns, rows)
        q_cols = ["source", "file", "line", "field", "reason"]
        rows = con.execute(
            "select source, file, line, field, reason from raw.quarantine "
            "order by source, file, line, field, reason").fetchall()
        counts["quarantine"] = _write_csv(out_dir / "quarantine.csv", q_cols, rows)
    finally:
        con.close()
    return counts


def _write_csv(path: Path, columns: list[str], rows: list[tuple]) -> int:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([format_cell(v) for v in row])
    tmp.replace(path)
    return len(rows)


def load_inputs(warehouse: Path, input_dir: Path) -> dict[str, object]:
    """Registry, landing deliveries and chain events into a fresh raw schema."""
    from ingestion.chain.bundle import load_chain_events_jsonl
    from ingestion.load import ingest_landing
    from ingestion.registry import load_registry
    from ingestion.warehouse import connect

    con = connect(warehouse)
    try:
        registry = load_registry(con, input_dir / "registry")
        stats: dict[str, object] = dict(ingest_landing(con, input_dir, registry))
        events = input_dir / "chain_events.jsonl"
        if events.exists():
            stats["chain_events"] = load_chain_events_jsonl(con, events)
    finally:
        con.close()
    return stats


def replay(input_dir: Path, start: date, end: date, out_dir: Path) -> ReplayResult:
    """Recompute days start..end from the bundle in `input_dir` into CSVs in `out_dir`."""
    if end < start:
        raise ValueError(f"replay window: end {end} is before start {start}")
    t0 = time.monotonic()
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    work = Path(tempfile.mkdtemp(prefix="aidnav-replay-"))
    try:
        warehouse = work / "warehouse.duckdb"
        stats = load_inputs(warehouse, input_dir)
        run_dbt(warehouse, start, end, work)
        counts = export_marts(warehouse, start, end, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = {name: out_dir / f"{name}.csv" for name in counts}
    return ReplayResult(out_dir, files, counts, counts.get("quarantine", 0),
                        time.monotonic() - t0, stats)
