"""The on-chain scenario of the demo book as an ordered list of transactions (pure, no web3).

Every transaction is sent by a TEST key that sends nothing else, so the sender's nonce on
chain tells whether a planned step has already been played: that is what makes
`drive_chain` idempotent and resumable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

from demo.book import DemoBook
from demo.invoices import latest_versions, revenue_on
from demo.keys import derive_test_key
from demo.registry import FEE_RECIPIENT_KEY, POOL_KEY, TREASURY_KEY

MINTER_KEY = "minter"
CUSTODIAN_KEY = "tbill_custodian"
USDC = 10**6
AID = 10**18
PROTOCOL_FEE_APR = Decimal("0.0025")
PERFORMANCE_FEE_PCT = Decimal("0.15")


def day_start(d: date) -> int:
    return int(datetime.combine(d, time(0), tzinfo=timezone.utc).timestamp())


def genesis_timestamp(first_day: date) -> int:
    """Genesis block time for the demo chain: 18:00 UTC the day before the first demo day,
    so that deployment happens before the books start and every scenario block is later."""
    return day_start(first_day) - 6 * 3600


@dataclass(frozen=True)
class Step:
    ts: int
    sender: str  # TEST key name
    action: str  # usdc_mint | aid_mint | usdc_transfer | aid_approve | said_deposit | said_redeem
    #              | said_transfer | aid_burn
    to: str = ""  # TEST key name of the recipient ("said" for the vault)
    amount: int = 0  # token units (USDC 6 decimals, AID 18)
    fraction: Decimal = Decimal(0)  # for said_redeem / said_transfer: share of the balance
    note: str = ""
    nonce: int = -1  # the sender's nonce for this step (filled by the plan)


@dataclass
class ScenarioPlan:
    steps: list[Step]
    holders: list[str]
    deposits_usdc: int
    principal_usdc: int
    yield_minted_aid: int
    estimated_min_backing_ratio: Decimal
    estimated_max_share_price_move_bps: Decimal
    end_timestamp: int
    actors: list[str] = field(default_factory=list)


def _micro_ceil(x: Decimal) -> int:
    return int((x * USDC).to_integral_value(ROUND_CEILING))


def _month_ends(first: date, last: date) -> list[date]:
    out = []
    d = first
    while d <= last:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        if nxt - timedelta(days=1) <= last:
            out.append(nxt - timedelta(days=1))
        d = nxt
    return out


def _share(book: DemoBook, deal_id: str, day: date, as_of: date | None) -> Decimal:
    deal = book.deal(deal_id)
    inv = latest_versions(book.invoices, as_of)
    return revenue_on(inv, deal_id, day) * Decimal(deal.spec.revenue_share_pct)


def build_plan(book: DemoBook) -> ScenarioPlan:
    rng = np.random.default_rng([book.seed, 5])
    first, end = book.first_day, book.end_day
    steps: list[Step] = []

    def at(d: date, hh: int, mm: int = 0) -> int:
        return day_start(d) + hh * 3600 + mm * 60

    principal_total = sum(d.principal_usd for d in book.deals)
    tbill_amount = book.tbill_transfer[1] if book.tbill_transfer else Decimal(0)
    n = max(2, book.n_holders)
    holders = [f"holder-{i + 1:02d}" for i in range(n)]
    n_early = max(1, math.ceil(n * 2 / 3))
    early_total = principal_total * Decimal("1.04") + 250_000
    late_total = tbill_amount + principal_total * Decimal("0.03") + 50_000
    w = rng.lognormal(0, 1.0, size=n)
    deposits: dict[str, int] = {}
    deposit_day: dict[str, int] = {}
    for i, h in enumerate(holders):
        group = w[:n_early] if i < n_early else w[n_early:]
        total = early_total if i < n_early else late_total
        amt = Decimal(str(float(w[i] / group.sum()))) * total
        deposits[h] = max(5_000, int((amt / 1000).to_integral_value(ROUND_CEILING)) * 1000)
        deposit_day[h] = 0 if i < n_early else int(rng.integers(1, max(2, book.days // 2 + 1)))
        deposit_day[h] = min(deposit_day[h], book.days - 1)
    stake_frac = {h: Decimal(str(round(float(rng.uniform(0.45, 0.9)), 2))) for h in holders}
    stakers = [h for i, h in enumerate(holders) if i % 4 != 3]

    for i, h in enumerate(holders):
        d = first + timedelta(days=deposit_day[h])
        usdc = deposits[h] * USDC
        steps.append(Step(at(d, 1, 2 * i), MINTER_KEY, "usdc_mint", h, usdc, note=f"{h} wires USD"))
        steps.append(Step(at(d, 1, 2 * i) + 30, h, "usdc_transfer", TREASURY_KEY, usdc, note="deposit"))
        steps.append(Step(at(d, 1, 2 * i) + 60, MINTER_KEY, "aid_mint", h, deposits[h] * AID, note="mint AID"))
        if h in stakers:
            stake = int(deposits[h] * stake_frac[h]) * AID
            steps.append(Step(at(d, 5, 2 * i), h, "aid_approve", "said", stake))
            steps.append(Step(at(d, 5, 2 * i) + 30, h, "said_deposit", h, stake, note="stake"))

    for k, deal in enumerate(book.deals):
        if first <= deal.funded_date <= end:
            steps.append(Step(at(deal.funded_date, 3, k), TREASURY_KEY, "usdc_transfer", deal.provider_key,
                              int(deal.principal_usd) * USDC, note=f"fund {deal.deal_id}"))

    # repayments
    for k, deal in enumerate(book.deals):
        s = deal.spec
        pay = lambda d, amount, note: steps.append(  # noqa: E731
            Step(at(d, 10, k), deal.provider_key, "usdc_transfer", deal.collection_key, amount, note=note))
        if s.structure == "fixed_rate":
            daily = deal.principal_usd * Decimal(s.fixed_apr) / 365
            prev = deal.funded_date - timedelta(days=1)
            for me in _month_ends(deal.funded_date, end):
                due = daily * (me - prev).days
                prev = me
                d = me + timedelta(days=4 if s.payment_mode == "late" else 0)
                if d <= end:
                    pay(d, _micro_ceil(due), f"{deal.deal_id} interest to {me}")
        elif s.payment_mode == "weekly_sweep":
            paid = 0
            d = deal.funded_date + timedelta(days=7)
            while d <= end:
                owed = sum((_share(book, deal.deal_id, deal.funded_date + timedelta(days=j), d)
                            for j in range((d - deal.funded_date).days)), Decimal(0))
                amount = _micro_ceil(owed) - paid
                if amount > 0:
                    pay(d, amount, f"{deal.deal_id} weekly revenue-share sweep")
                    paid += amount
                d += timedelta(days=7)
        else:
            for me in _month_ends(deal.funded_date, end):
                due_day = me + timedelta(days=15)
                d = due_day + timedelta(days=3 if s.payment_mode == "late" else 0)
                if d > end:
                    continue
                start = max(deal.funded_date, date(me.year, me.month, 1))
                owed = sum((_share(book, deal.deal_id, start + timedelta(days=j), d)
                            for j in range((me - start).days + 1)), Decimal(0))
                if owed > 0:
                    pay(d, _micro_ceil(owed), f"{deal.deal_id} revenue share for {me:%Y-%m}")

    # rough NAV path: income, fees, surplus; yield moved into the vault and fees paid weekly
    reserved_only = [i for i in latest_versions(book.invoices) if i.issue_date == i.period_start]
    income_est: list[Decimal] = []
    income_conservative: list[Decimal] = []
    for day in book.day_list:
        inc = cons = Decimal(0)
        for deal in book.deals:
            if not (deal.funded_date <= day <= deal.maturity_date):
                continue
            s = deal.spec
            if s.structure == "fixed_rate":
                x = deal.principal_usd * Decimal(s.fixed_apr) / 365
                inc += x
                cons += x
            else:
                keep = 1 - 1 / Decimal(s.target_multiple)
                inc += _share(book, deal.deal_id, day, None) * keep
                cons += revenue_on(reserved_only, deal.deal_id, day) * Decimal(s.revenue_share_pct) * keep
        income_est.append(inc)
        income_conservative.append(cons)

    aid_supply = Decimal(0)
    said_assets = Decimal(0)
    said_supply = Decimal(0)
    surplus = Decimal(0)
    surplus_cons = Decimal(0)
    fees_accrued = Decimal(0)
    fees_paid = Decimal(0)
    minted = 0
    last_price = Decimal(1)
    min_backing = Decimal(10)
    max_move = Decimal(0)
    stake_of = {h: int(deposits[h] * stake_frac[h]) for h in stakers}
    for di, day in enumerate(book.day_list):
        if di >= 1 and di % 7 == 6:
            y = int(((surplus_cons * Decimal("0.8")) / 100).to_integral_value(ROUND_FLOOR)) * 100
            if y > 0:
                steps.append(Step(at(day, 12), MINTER_KEY, "aid_mint", "said", y * AID, note="yield to vault"))
                minted += y
                aid_supply += y
                said_assets += y
                surplus -= y
                surplus_cons -= y
        if di % 7 == 3 and fees_accrued - fees_paid >= 100:
            f = int(((fees_accrued - fees_paid) / 100).to_integral_value(ROUND_FLOOR)) * 100
            steps.append(Step(at(day, 14), TREASURY_KEY, "usdc_transfer", FEE_RECIPIENT_KEY, f * USDC,
                              note="protocol and performance fees"))
            fees_paid += f
        for h in holders:
            if deposit_day[h] == di:
                aid_supply += deposits[h]
                if h in stake_of:
                    rate = said_assets / said_supply if said_supply else Decimal(1)
                    said_assets += stake_of[h]
                    said_supply += stake_of[h] / rate
        fee = (aid_supply + surplus) * PROTOCOL_FEE_APR / 365 + PERFORMANCE_FEE_PCT * max(Decimal(0), income_est[di])
        fees_accrued += fee
        surplus += income_est[di] - fee
        surplus_cons += income_conservative[di] - fee
        if aid_supply:
            min_backing = min(min_backing, (aid_supply + surplus) / aid_supply)
        if said_supply:
            price = (said_assets + surplus) / said_supply
            max_move = max(max_move, abs(price / last_price - 1) * 10000)
            last_price = price

    # staking activity over the window: sAID transfers, unstaking, one AID redemption
    def pick(offset: int) -> str:
        return stakers[offset % len(stakers)]

    if book.days >= 3 and len(stakers) >= 2:
        for j, (frac_day, frm, to, frac) in enumerate([
            (0.35, pick(1), pick(5), "0.25"), (0.5, pick(2), pick(7), "0.30"),
            (0.65, pick(3), POOL_KEY, "0.20"), (0.8, pick(4), holders[-1], "0.40"),
        ]):
            if frm == to:
                continue
            d = first + timedelta(days=max(1, int(book.days * frac_day)))
            steps.append(Step(at(d, 16, j), frm, "said_transfer", to, fraction=Decimal(frac), note="sAID transfer"))
        for j, (frac_day, h, frac) in enumerate([(0.4, pick(6), "0.30"), (0.6, pick(8), "0.50"),
                                                 (0.85, pick(9), "0.25")]):
            d = first + timedelta(days=max(1, int(book.days * frac_day)))
            steps.append(Step(at(d, 18, j), h, "said_redeem", h, fraction=Decimal(frac), note="unstake"))
        redeemer = holders[3 % n]
        free_aid = deposits[redeemer] - stake_of.get(redeemer, 0)
        burn = (free_aid // 2 // 1000) * 1000
        d = first + timedelta(days=max(1, int(book.days * 0.7)))
        if burn > 0 and deposit_day[redeemer] < (d - first).days:
            steps.append(Step(at(d, 19), redeemer, "aid_burn", amount=burn * AID, note="redeem AID"))
            steps.append(Step(at(d, 19, 5), TREASURY_KEY, "usdc_transfer", redeemer, burn * USDC,
                              note="pay out AID redemption"))
    if book.tbill_transfer is not None:
        d, amount = book.tbill_transfer
        steps.append(Step(at(d, 15), TREASURY_KEY, "usdc_transfer", CUSTODIAN_KEY, int(amount) * USDC,
                          note="T-bill buffer to custodian"))

    # order by time, make timestamps strictly increasing, number each sender's nonces
    steps.sort(key=lambda s: (s.ts, s.sender, s.action))
    out: list[Step] = []
    nonces: dict[str, int] = {}
    last = 0
    for s in steps:
        ts = max(s.ts, last + 1)
        last = ts
        nonce = nonces.get(s.sender, 0)
        nonces[s.sender] = nonce + 1
        out.append(Step(ts, s.sender, s.action, s.to, s.amount, s.fraction, s.note, nonce))
        if datetime.fromtimestamp(ts, timezone.utc).date() != datetime.fromtimestamp(s.ts, timezone.utc).date():
            raise AssertionError(f"step {s.note} slipped to the next day")
    actors = sorted({s.sender for s in out} | {TREASURY_KEY, FEE_RECIPIENT_KEY, POOL_KEY, CUSTODIAN_KEY}
                    | {d.collection_key for d in book.deals})
    return ScenarioPlan(out, holders, sum(deposits.values()), int(principal_total), minted,
                        min_backing, max_move, day_start(end + timedelta(days=1)), actors)


def address_of(name: str) -> str:
    return derive_test_key(name).address
