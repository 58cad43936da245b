"""Day numbers: how the contracts name a day.

The NavOracle's day (and Chainlink round id) and the RewardsDistributor's epoch are the
number of whole days since 1970-01-01 UTC; a day has ended when the chain's time reaches
the first second of the next one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

EPOCH = date(1970, 1, 1)
SECONDS_PER_DAY = 86400


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the oracle's day and Chainlink roundId, the rewards epoch)."""
    return (day - EPOCH).days


def day_from_number(number: int) -> date:
    """The day of a day number (`day_number`'s inverse)."""
    return EPOCH + timedelta(days=number)


def day_end(day: date) -> datetime:
    """The first instant after `day` (UTC): the day has ended from then on."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc)


def day_end_timestamp(number: int) -> int:
    """`day_end` of day `number` in unix seconds (what block timestamps are compared with)."""
    return (number + 1) * SECONDS_PER_DAY
