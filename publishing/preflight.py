"""Pre-flight of a day before anything is posted (METHODOLOGY.md section 6).

`preflight_day` is the one verdict on a day: the blocking asset check in front of the
publish asset calls it (`preflight_days`, over the run's days), and so does the publisher
before it sends, each with the same warehouse, override and clock (`publication_clock`),
so a day the contract would reject is stopped with a readable reason, and nothing is sent.
`preflight_nav` and `telemetry_collapse` are its rules over plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from onchain.days import day_end
from quality.overrides import Override, OverrideError, resolve_override
from quality.reconcile import nav_identity


@dataclass(frozen=True)
class LastPosted:
    day: date
    share_price: Decimal


@dataclass(frozen=True)
class PreflightResult:
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def preflight_nav(
    day: date,
    share_price: Decimal,
    backing_ratio: Decimal | None,
    last_posted: LastPosted | None,
    max_move_bps: Decimal,
    now: datetime,
    override_reason: str | None = None,
) -> PreflightResult:
    """Every reason the NAV of `day` must not be posted now; empty when it may be."""
    problems: list[str] = []
    if now < day_end(day):
        problems.append(f"{day} has not ended yet (it ends at {day_end(day).isoformat()})")
    if backing_ratio is not None and backing_ratio < 1:
        problems.append(f"backing ratio {backing_ratio} is below 1: publication blocked")
    if last_posted is not None and last_posted.day < day and last_posted.share_price > 0:
        move_bps = abs(share_price / last_posted.share_price - 1) * 10000
        if move_bps > max_move_bps and not override_reason:
            problems.append(
                f"share price moves {move_bps:.2f} bps from {last_posted.share_price} "
                f"(posted for {last_posted.day}) to {share_price}, beyond the "
                f"{max_move_bps} bps guardrail; record an audited override to publish"
            )
    return PreflightResult(problems=tuple(problems))


def telemetry_collapse(
    day: date, coverage: Decimal | float | None, trailing: list[Decimal | float], floor: float = 0.5
) -> str | None:
    """A fleet-wide fall of GPU telemetry coverage is a pipeline fault, not a business event:
    the day's mean coverage under `floor` times the trailing 7-day mean stops the day.
    No override applies."""
    if not trailing or coverage is None:
        return None
    mean = sum(float(c) for c in trailing) / len(trailing)
    if mean > 0 and float(coverage) < floor * mean:
        return (
            f"fleet GPU telemetry coverage {float(coverage):.3f} on {day} is under "
            f"{floor:.0%} of the trailing {len(trailing)}-day mean {mean:.3f}: "
            "pipeline fault (telemetry not delivered or not ingested), publication blocked"
        )
    return None


# ---------------------------------------------------------------- the day's verdict
@dataclass(frozen=True)
class DayVerdict:
    """Whether `day` may be posted now, every reason when not, and the override applied."""

    day: date
    problems: tuple[str, ...]
    override: Override | None
    share_price: Decimal | None  # the figure judged (None: the mart has no row)

    @property
    def passed(self) -> bool:
        return not self.problems


def publication_clock(w3: Any) -> datetime:
    """The time a day is judged at: the chain's latest block, never past the wall clock
    (the contract judges by block time; a chain ahead of the wall clock does not count)."""
    chain_now = datetime.fromtimestamp(w3.eth.get_block("latest")["timestamp"], tz=timezone.utc)
    return min(chain_now, datetime.now(timezone.utc))


def max_move_bps(con: duckdb.DuckDBPyConnection) -> Decimal:
    """The share-price guardrail of the registry's parameters (`raw.params`)."""
    return Decimal(con.execute(
        "select value from raw.params where name = 'max_share_price_move_bps'").fetchone()[0])


def _mart_figures(con: duckdb.DuckDBPyConnection, day: date) -> tuple[Decimal, Decimal | None] | None:
    row = con.execute("select share_price, backing_ratio from marts.fct_nav_daily where day = ?",
                      [day]).fetchone()
    return None if row is None else (row[0], row[1])


def _trailing_coverage(con: duckdb.DuckDBPyConnection, day: date) -> tuple[Any, list[Any]]:
    coverage = dict(con.execute(
        "select day, avg(coverage) from marts.fct_gpu_operation_daily "
        "where day between ? and ? group by day", [day - timedelta(days=7), day],
    ).fetchall())
    trailing = [coverage[d] for d in (day - timedelta(days=i) for i in range(1, 8))
                if d in coverage]
    return coverage.get(day), trailing


def preflight_day(
    con: duckdb.DuckDBPyConnection,
    day: date,
    now: datetime,
    last_posted: LastPosted | None,
    data_dir: Path,
    override_reason: str | None = None,
    override_approver: str | None = None,
    figures: tuple[Decimal, Decimal | None] | None = None,
) -> DayVerdict:
    """Every reason `day` must not be posted at `now` after `last_posted`; empty when it may.

    The NAV identity holds, GPU telemetry did not collapse, the override (run config, else
    `<data_dir>/overrides/<day>.json`) names its approver, and the guardrails of
    `preflight_nav` accept the share price. `figures` (share price, backing ratio) are the
    report's when it was posted already; by default the mart's.
    """
    figures = figures if figures is not None else _mart_figures(con, day)
    if figures is None:
        return DayVerdict(day, (f"{day}: fct_nav_daily has no row",), None, None)
    share_price, backing = figures
    problems = nav_identity(con, day, day)
    collapse = telemetry_collapse(day, *_trailing_coverage(con, day))
    if collapse:
        problems.append(collapse)
    try:
        override = resolve_override(data_dir, day, override_reason, override_approver)
    except OverrideError as exc:
        problems.append(str(exc))
        override = None
    if override is not None and not override.approver:
        problems.append(f"{day}: override '{override.reason}' has no approver: "
                        "set override_approver")
        override = None
    if last_posted is None or last_posted.day < day:
        found = preflight_nav(day, share_price, backing, last_posted, max_move_bps(con), now,
                              override.reason if override else None).problems
        problems += [f"{day}: {p}" for p in found]
    return DayVerdict(day, tuple(problems), override, share_price)


def preflight_days(
    con: duckdb.DuckDBPyConnection,
    days: Iterable[date],
    now: datetime,
    last_posted: LastPosted | None,
    data_dir: Path,
    override_reason: str | None = None,
    override_approver: str | None = None,
) -> list[DayVerdict]:
    """`preflight_day` over a run's days in order, each compared with the day before it
    (as the chain will, once that one is posted)."""
    verdicts = []
    for day in sorted(days):
        verdict = preflight_day(con, day, now, last_posted, data_dir, override_reason,
                                override_approver)
        verdicts.append(verdict)
        if verdict.share_price is not None and (last_posted is None or last_posted.day < day):
            last_posted = LastPosted(day, verdict.share_price)
    return verdicts
