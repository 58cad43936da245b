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
