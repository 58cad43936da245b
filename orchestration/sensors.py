"""Late data: a delivery for a day that has already been computed re-runs the days it moves.

The sensor lists the landing zone, keeps the files that the file ledger
(`raw.ingested_files`) has not seen, works out the first day each one can change (the
telemetry folder's date; for an invoice file, its delivery date or the earliest
period/issue/paid date in it), and, when that day is not after the latest day in
`marts.fct_nav_daily`, requests one single-run backfill of `daily_nav` from that day to
the latest computed day: carried figures are computed from inception, so every later day
follows. The run key is a hash of the new files' paths and contents, so the same delivery
never triggers twice; a restated day that was already posted is recorded as a
restatement by the publisher, never posted again. Files for days not yet computed are
left to the daily schedule.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

import dagster as dg
import duckdb

from orchestration.jobs import daily_nav_job
from orchestration.resources import WarehouseResource

# source folder -> (ledger source name, index of the date folder after the source folder)
LANDING_SOURCES: dict[str, tuple[str, int]] = {
    "invoices": ("invoices", 1),
    "gpu_telemetry": ("gpu_telemetry", 0),
    "robot_telemetry": ("robot_telemetry", 0),
}
INVOICE_DATE_FIELDS = ("period_start", "issue_date", "paid_date")


@dataclass(frozen=True)
class LateFile:
    rel: str          # path relative to the landing root
    sha256: str
    first_day: date   # the first day whose figures it can change


@dataclass(frozen=True)
class LateDataPlan:
    files: tuple[LateFile, ...]
    start: date
    end: date
    run_key: str


def _parse_date(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _invoice_first_day(data: bytes, delivery: date, rel: str) -> date:
    """The earliest period/issue/paid date of an invoice file (or its delivery date)."""
    days = [delivery]
    text = data.decode("utf-8", errors="replace")
    if rel.endswith(".jsonl"):
        records = []
        for line in text.splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # the loader quarantines it; it cannot move an earlier day
            if isinstance(obj, dict):
                records.append(obj)
    else:
        records = list(csv.DictReader(io.StringIO(text)))
    for rec in records:
        for field in INVOICE_DATE_FIELDS:
            d = _parse_date(rec.get(field) or "")
            if d is not None:
                days.append(d)
    return min(days)


def ledger_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Relative paths already in the file ledger, whatever the source."""
    return {r[0] for r in con.execute("select file from raw.ingested_files").fetchall()}


def latest_computed_day(con: duckdb.DuckDBPyConnection) -> date | None:
    try:
        return con.execute("select max(day) from marts.fct_nav_daily").fetchone()[0]
    except duckdb.CatalogException:
        return None


def new_landing_files(landing_dir: Path, known: set[str]) -> list[LateFile]:
    """Delivery files under `landing_dir` that are not in `known` (signature files and
    temporary names excluded), with the first day each can change."""
    out: list[LateFile] = []
    landing_dir = Path(landing_dir)
    for source, (_, date_index) in LANDING_SOURCES.items():
        base = landing_dir / source
        if not base.is_dir():
            continue
        for dirpath, _, names in os.walk(base):
            for name in names:
                if name.startswith(".") or name.endswith((".sig", ".tmp", ".partial")):
                    continue
                path = Path(dirpath) / name
                rel = path.relative_to(landing_dir).as_posix()
                if rel in known:
                    continue
                parts = PurePosixPath(rel).parts
                if len(parts) <= date_index + 2:
                    continue
                folder_day = _parse_date(parts[1 + date_index])
                if folder_day is None:
                    continue
                data = path.read_bytes()
                first = (_invoice_first_day(data, folder_day, rel) if source == "invoices"
                         else folder_day)
                out.append(LateFile(rel, hashlib.sha256(data).hexdigest(), first))
    return sorted(out, key=lambda f: f.rel)


def plan_late_data(landing_dir: Path, con: duckdb.DuckDBPyConnection) -> LateDataPlan | None:
    """The re-run that the late deliveries call for, or None when there is none."""
    latest = latest_computed_day(con)
    if latest is None:
        return None
    late = [f for f in new_landing_files(landing_dir, ledger_files(con)) if f.first_day <= latest]
    if not late:
        return None
    digest = hashlib.sha256(
        "\n".join(f"{f.rel}\t{f.sha256}" for f in late).encode()).hexdigest()
    start = min(f.first_day for f in late)
    return LateDataPlan(tuple(late), start, latest, f"late-data-{digest[:32]}")


def run_request_for(plan: LateDataPlan) -> dg.RunRequest:
    """One single-run backfill of `daily_nav` over plan.start..plan.end."""
    tags = {
        "dagster/asset_partition_range_start": plan.start.isoformat(),
        "dagster/asset_partition_range_end": plan.end.isoformat(),
        "aidnav/trigger": "late_data",
        "aidnav/late_files": str(len(plan.files)),
    }
    if plan.start == plan.end:
        return dg.RunRequest(run_key=plan.run_key, partition_key=plan.start.isoformat(),
                             tags={k: v for k, v in tags.items() if "range" not in k})
    return dg.RunRequest(run_key=plan.run_key, tags=tags)


@dg.sensor(job=daily_nav_job, minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Re-runs computed days when invoices or telemetry arrive late.")
def late_data_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    if not settings.warehouse_path.exists():
        return dg.SkipReason("no warehouse yet")
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException as exc:  # a run holds the write lock: look again next tick
        return dg.SkipReason(f"warehouse busy: {exc}")
    try:
        plan = plan_late_data(settings.landing_dir, con)
    finally:
        con.close()
    if plan is None:
        return dg.SkipReason("no late delivery for a computed day")
    if context.cursor == plan.run_key:
        return dg.SkipReason(f"already requested ({plan.run_key}); waiting for the run")
    context.update_cursor(plan.run_key)
    context.log.info(f"{len(plan.files)} late file(s): re-running {plan.start} .. {plan.end}")
    return run_request_for(plan)
