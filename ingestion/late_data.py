"""Late data: which delivered files the file ledger has not seen, the first day each can
change, and the re-run of computed days they call for.

A file is listed through the landing package as ingestion lists it (local path or fsspec
URL), and read only when ingestion would read it: a link, a special file, a file outside
the landing root or over its source's size limit is never opened (it is counted by its
refusal marker, the same one ingestion records). A telemetry delivery is a `.jsonl`,
`.jsonl.gz` or `.jsonl.zst` file; its digest is that of the bytes as delivered, and a
compressed one is never decompressed here. The first day a file can change is its
telemetry folder's date; for an invoice file, its delivery date or the earliest period,
issue or paid date in it. The plan's key hashes the new files' paths and contents, so the
same delivery never asks twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

import duckdb

from ingestion.bounds import FILE_MAX_BYTES, SIG_MAX_BYTES
from ingestion.landing import Landing, LandingFile, is_telemetry_delivery

# source folder -> index of the delivery-date folder among the two below it
LANDING_SOURCES: dict[str, int] = {"invoices": 1, "gpu_telemetry": 0, "robot_telemetry": 0}
# sources whose deliveries are JSON Lines, plain or compressed (`ingestion.compression`)
TELEMETRY_SOURCES = ("gpu_telemetry", "robot_telemetry")
INVOICE_DATE_FIELDS = ("period_start", "issue_date", "paid_date")


@dataclass(frozen=True)
class LateFile:
    rel: str          # path relative to the landing root
    sha256: str
    first_day: date   # the first day whose figures it can change
    # a telemetry delivery's `.sig` beside it: its sha256 (or refusal marker), None while
    # there is none. A batch waiting for its signature is not in the ledger; when the
    # signature arrives the plan's key changes, and the days are run again.
    signature: str | None = None


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


def computed_days(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and the latest day of `marts.fct_nav_daily` (None, None before any)."""
    try:
        return con.execute("select min(day), max(day) from marts.fct_nav_daily").fetchone()
    except duckdb.CatalogException:
        return None, None


def new_landing_files(landing_dir: str | Path, known: set[str]) -> list[LateFile]:
    """Delivery files under `landing_dir` that are not in `known` (signature files and
    temporary names excluded; in the telemetry sources, only what ingestion reads:
    `.jsonl`, `.jsonl.gz`, `.jsonl.zst`), with the first day each can change. A file's
    digest is the sha256 of its bytes as delivered, compressed or not, as in the ledger."""
    landing = Landing(landing_dir)
    out: list[LateFile] = []
    for source, date_index in LANDING_SOURCES.items():
        files = landing.list(source, folder_depth=2, dates=None, date_index=date_index)
        signatures = {f.path: f for f in files if f.rel.endswith(".sig")}
        for f in files:
            name = PurePosixPath(f.rel).name
            if name.startswith(".") or name.endswith((".sig", ".tmp", ".partial")):
                continue
            if source in TELEMETRY_SOURCES and not is_telemetry_delivery(f):
                continue
            if f.rel in known:
                continue
            folder_day = _parse_date(f.parts[1 + date_index])
            if folder_day is None:
                continue
            data, refusal = landing.read_or_refuse(f, FILE_MAX_BYTES[source])
            if refusal is not None:  # never opened: ingestion will quarantine it
                out.append(LateFile(f.rel, refusal.marker, folder_day))
                continue
            first = (_invoice_first_day(data, folder_day, f.rel) if source == "invoices"
                     else folder_day)
            out.append(LateFile(f.rel, hashlib.sha256(data).hexdigest(), first,
                                _signature(landing, signatures.get(f"{f.path}.sig"))))
    return sorted(out, key=lambda f: f.rel)


def _signature(landing: Landing, sig: LandingFile | None) -> str | None:
    """The sha256 of a `.sig` file (its refusal marker when it is not read), None without."""
    if sig is None:
        return None
    data, refusal = landing.read_or_refuse(sig, SIG_MAX_BYTES)
    return refusal.marker if refusal is not None else hashlib.sha256(data).hexdigest()


def plan_late_data(landing_dir: str | Path,
                   con: duckdb.DuckDBPyConnection) -> LateDataPlan | None:
    """The re-run that the late deliveries call for, or None when there is none. It never
    starts before the first computed day: an invoice dated in year 1 asks for the books
    from their start, not for days the books never had."""
    first, latest = computed_days(con)
    if latest is None:
        return None
    late = [f for f in new_landing_files(landing_dir, ledger_files(con)) if f.first_day <= latest]
    if not late:
        return None
    digest = hashlib.sha256(
        "\n".join(f"{f.rel}\t{f.sha256}" + (f"\t{f.signature}" if f.signature else "")
                  for f in late).encode()).hexdigest()
    start = max(min(f.first_day for f in late), first)
    return LateDataPlan(tuple(late), start, latest, f"late-data-{digest[:32]}")


@dataclass(frozen=True)
class LateDataAnswer:
    """What the landing zone holds that the computed days have not seen: the re-run it
    calls for (`plan`), or why none (`reason`)."""

    plan: LateDataPlan | None
    reason: str


def what_is_late(warehouse_path: str | Path, landing_root: str | Path) -> LateDataAnswer:
    """The late deliveries under `landing_root` (local path or fsspec URL) against the
    warehouse at `warehouse_path`, opened read-only: a run that holds the warehouse is
    never waited for, the question is asked again later."""
    if not Path(warehouse_path).exists():
        return LateDataAnswer(None, "no warehouse yet")
    try:
        con = duckdb.connect(str(warehouse_path), read_only=True)
    except duckdb.IOException as exc:  # a run holds the write lock: look again later
        return LateDataAnswer(None, f"warehouse busy: {exc}")
    try:
        plan = plan_late_data(landing_root, con)
    finally:
        con.close()
    if plan is None:
        return LateDataAnswer(None, "no late delivery for a computed day")
    return LateDataAnswer(plan, f"{len(plan.files)} late file(s): re-running "
                                f"{plan.start} .. {plan.end}")
