"""Staker rewards: time-weighted balances, floor allocation with dust carry and the
cumulative amounts that the Merkle root commits to (METHODOLOGY section 5).

Exact integer arithmetic throughout: balances in wei, time in seconds, rewards in wei.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from ledger.exact import WEI, exact

SECONDS_PER_DAY = 86400
ZERO_ADDRESS = "0x" + "0" * 40


@dataclass(frozen=True)
class TokenTransfer:
    block_timestamp: datetime  # timezone-aware
    sender: str
    receiver: str
    value: int  # wei
    order: tuple[int, int] = (0, 0)  # (block_number, log_index)


@dataclass(frozen=True)
class RewardRow:
    day: date
    account: str
    twab: Decimal  # sAID
    reward_wei: int
    cumulative_wei: int


@dataclass(frozen=True)
class RewardDay:
    day: date
    budget_wei: int
    dust_wei: int
    total_cumulative_wei: int
    accounts: int
    cumulative: dict[str, int]  # account -> cumulative wei (> 0): the Merkle leaves


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def balance_seconds(transfers: Sequence[TokenTransfer], day: date,
                    opening: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Wei-seconds held by every account during `day` and the closing balances.

    `opening` holds the balances at the start of the day; `transfers` are that day's
    transfers in chain order. A transfer takes effect at its block timestamp."""
    start = day_start(day)
    balances = dict(opening)
    since = {a: 0 for a in balances}
    acc: dict[str, int] = {}
    for t in transfers:
        offset = int((t.block_timestamp - start).total_seconds())
        if not 0 <= offset < SECONDS_PER_DAY:
            raise ValueError(f"transfer at {t.block_timestamp} is not in day {day}")
        for account, delta in ((t.sender, -t.value), (t.receiver, t.value)):
            held = balances.get(account, 0)
            acc[account] = acc.get(account, 0) + held * (offset - since.get(account, 0))
            since[account] = offset
            balances[account] = held + delta
    for account, held in balances.items():
        acc[account] = acc.get(account, 0) + held * (SECONDS_PER_DAY - since.get(account, 0))
    return acc, balances


@exact
def compute_rewards(days: Sequence[date], transfers: Iterable[TokenTransfer],
                    excluded: set[str], daily_budget_wei: int
                    ) -> tuple[list[RewardRow], list[RewardDay]]:
    """Walk consecutive days from inception (dust and cumulative start at 0).

    `transfers` are every sAID Transfer (any date; those before the first day only set
    the opening balances). Excluded accounts (and the zero address) hold balances but
    earn nothing."""
    excluded = {a.lower() for a in excluded} | {ZERO_ADDRESS}
    ordered = sorted(transfers, key=lambda t: (t.block_timestamp, t.order))
    first = days[0] if days else None
    balances: dict[str, int] = {}
    by_day: dict[date, list[TokenTransfer]] = {}
    for t in ordered:
        t = TokenTransfer(t.block_timestamp, t.sender.lower(), t.receiver.lower(), t.value, t.order)
        d = t.block_timestamp.astimezone(timezone.utc).date()
        if first is not None and d < first:
            balances[t.sender] = balances.get(t.sender, 0) - t.value
            balances[t.receiver] = balances.get(t.receiver, 0) + t.value
        else:
            by_day.setdefault(d, []).append(t)
    rows: list[RewardRow] = []
    summaries: list[RewardDay] = []
    cumulative: dict[str, int] = {}
    dust = 0
    for day in days:
        held, balances = balance_seconds(by_day.get(day, []), day, balances)
        eligible = {a: s for a, s in held.items() if a not in excluded and s > 0}
        total = sum(eligible.values())
        budget = daily_budget_wei + dust
        rewards = {a: budget * s // total for a, s in eligible.items()} if total else {}
        dust = budget - sum(rewards.values())
        for a, r in rewards.items():
            cumulative[a] = cumulative.get(a, 0) + r
        accounts = sorted(set(eligible) | {a for a, c in cumulative.items() if c > 0})
        for a in accounts:
            twab = Decimal(eligible.get(a, 0)) / Decimal(SECONDS_PER_DAY) / Decimal(WEI)
            rows.append(RewardRow(day, a, twab, rewards.get(a, 0), cumulative.get(a, 0)))
        leaves = {a: c for a, c in cumulative.items() if c > 0}
        summaries.append(RewardDay(day, budget, dust, sum(leaves.values()), len(leaves), leaves))
    return rows, summaries


def days_from(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
