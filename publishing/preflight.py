"""Pre-flight of the on-chain guardrails (METHODOLOGY.md section 6), before any transaction.

Plain functions over plain values: the blocking asset check in front of the publish
asset calls them, and so does the publisher path, so a day the contract would reject is
stopped here with a readable reason, and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal


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


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc)


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
