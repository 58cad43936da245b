"""Deal accrual, waterfall, dues, delinquency and allowance (METHODOLOGY section 3).

The functions walk a deal day by day from its `funded_date`; a run for any window walks
from funding, so a day's figures never depend on the window asked for.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ledger.exact import ZERO, exact

DPD_TOLERANCE = Decimal("0.000001")
DAYS_PER_YEAR = Decimal(365)
FIXED_RATE = "fixed_rate"
REVENUE_SHARE = "revenue_share"


@dataclass(frozen=True)
class DealTerms:
    deal_id: str
    structure: str  # fixed_rate | revenue_share
    principal_usd: Decimal
    funded_date: date
    maturity_date: date
    fixed_apr: Decimal | None = None
    revenue_share_pct: Decimal | None = None
    target_multiple: Decimal | None = None
    tail_share_pct: Decimal | None = None
    # Given by the registry with its defaults filled in (ingestion/registry.py owns them):
    # the ledger applies no default of its own.
    payment_lag_days: int | None = None
    min_collateral_ratio: Decimal | None = None


@dataclass(frozen=True)
class InvoiceLine:
    """The retained version of one invoice (highest version, not void)."""

    invoice_id: str
    deal_id: str
    period_start: date
    period_end: date
    amount_usd: Decimal


@dataclass(frozen=True)
class Accrual:
    """One day of a deal before collateral: balances, the day's accrual and cash."""

    day: date
    principal: Decimal
    receivable: Decimal
    accrued_today: Decimal
    income: Decimal
    receipts: Decimal
    applied: Decimal  # receipts applied to interest/share and principal
    excess_cash: Decimal
    principal_repaid: Decimal = ZERO  # the part of `applied` that repaid principal


@dataclass(frozen=True)
class DealPosition:
    day: date
    deal_id: str
    structure: str
    principal: Decimal
    receivable: Decimal
    accrued_today: Decimal
    income: Decimal
    receipts: Decimal
    dpd: int
    collateral_value: Decimal
    exposure: Decimal
    collateral_ratio: Decimal | None
    ltv: Decimal | None
    covenant_breach: bool
    loss_rate: Decimal
    allowance: Decimal
    carrying_value: Decimal
    net_income: Decimal
    excess_cash: Decimal


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included (empty when last < first)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@exact
def revenue_by_day(invoices: Sequence[InvoiceLine], first: date, last: date) -> dict[date, Decimal]:
    """Revenue of each day: every invoice spread evenly over its inclusive service period."""
    revenue = {d: ZERO for d in days_between(first, last)}
    for inv in invoices:
        period_days = (inv.period_end - inv.period_start).days + 1
        daily = inv.amount_usd / Decimal(period_days)
        for d in days_between(max(inv.period_start, first), min(inv.period_end, last)):
            revenue[d] += daily
    return revenue


@exact
def accrue_fixed_rate(terms: DealTerms, last: date,
                      receipts: Mapping[date, Decimal]) -> list[Accrual]:
    """Fixed-rate deal from funding to `last`: ACT/365 interest, waterfall interest ->
    principal -> excess cash; no interest after maturity."""
    assert terms.fixed_apr is not None, f"deal {terms.deal_id}: fixed_apr is required"
    out: list[Accrual] = []
    principal = terms.principal_usd
    accrued = ZERO
    for d in days_between(terms.funded_date, last):
        interest = principal * terms.fixed_apr / DAYS_PER_YEAR if d <= terms.maturity_date else ZERO
        accrued += interest
        cash = receipts.get(d, ZERO)
        interest_paid = min(cash, max(accrued, ZERO))
        accrued -= interest_paid
        principal_paid = min(cash - interest_paid, principal)
        principal -= principal_paid
        excess = cash - interest_paid - principal_paid
        out.append(Accrual(d, principal, accrued, interest, interest, cash,
                           interest_paid + principal_paid, excess, principal_paid))
    return out


@exact
def accrue_revenue_share(terms: DealTerms, last: date, revenue: Mapping[date, Decimal],
                         receipts: Mapping[date, Decimal]) -> list[Accrual]:
    """Revenue-share deal from funding to `last`: share at the headline rate until the
    cumulative share reaches principal x target multiple, then the tail rate; each unit
    of share returns 1/target_multiple of principal; receipts settle the receivable
    (after maturity they also repay the remaining principal), the rest is excess cash."""
    assert terms.revenue_share_pct is not None and terms.target_multiple is not None \
        and terms.tail_share_pct is not None, f"deal {terms.deal_id}: revenue-share terms missing"
    out: list[Accrual] = []
    principal = terms.principal_usd
    receivable = ZERO
    cumulative_share = ZERO
    cap = terms.principal_usd * terms.target_multiple
    for d in days_between(terms.funded_date, last):
        if d <= terms.maturity_date:
            pct = terms.revenue_share_pct if cumulative_share < cap else terms.tail_share_pct
            share = revenue.get(d, ZERO) * pct
        else:
            share = ZERO
        cumulative_share += share
        principal_return = min(principal, share / terms.target_multiple)
        principal -= principal_return
        income = share - principal_return
        receivable += share
        cash = receipts.get(d, ZERO)
        to_receivable = min(cash, max(receivable, ZERO))
        receivable -= to_receivable
        to_principal = ZERO
        if d >= terms.maturity_date:
            # the remaining principal falls due on maturity_date: from that day on, cash
            # beyond the receivable repays it (a payment on the due date is on time)
            to_principal = min(cash - to_receivable, max(principal, ZERO))
        principal -= to_principal
        excess = cash - to_receivable - to_principal
        out.append(Accrual(d, principal, receivable, share, income, cash,
                           to_receivable + to_principal, excess, to_principal))
    return out


@exact
def due_schedule(terms: DealTerms, accruals: Sequence[Accrual]) -> list[tuple[date, Decimal]]:
    """(due_date, amount) in date order.

    Fixed rate: the interest accrued through each month-end is due that day; at maturity
    the interest since the last month-end plus the whole `principal_usd` (prepayments are
    already in cum_paid). Revenue share: a calendar month's share is due
    `payment_lag_days` after the month's last day; the principal remaining at maturity,
    before that day's cash repayments, is due on maturity."""
    dues: dict[date, Decimal] = {}
    if terms.structure == FIXED_RATE:
        pending = ZERO
        for a in accruals:
            if a.day > terms.maturity_date:
                break
            pending += a.accrued_today
            if a.day == terms.maturity_date:
                dues[a.day] = dues.get(a.day, ZERO) + pending + terms.principal_usd
                pending = ZERO
            elif a.day == month_end(a.day):
                dues[a.day] = dues.get(a.day, ZERO) + pending
                pending = ZERO
    elif terms.structure == REVENUE_SHARE:
        if terms.payment_lag_days is None:
            raise ValueError(f"deal {terms.deal_id}: payment_lag_days is required")
        by_month: dict[date, Decimal] = {}
        for a in accruals:
            if a.day > terms.maturity_date:
                break
            me = month_end(a.day)
            by_month[me] = by_month.get(me, ZERO) + a.accrued_today
            if a.day == terms.maturity_date:
                # what falls due is the principal outstanding before the day's cash
                # repayments: those already count in cum_paid, and taking the principal
                # after them would count them twice (a credit hiding later arrears)
                outstanding = a.principal + a.principal_repaid
                dues[a.day] = dues.get(a.day, ZERO) + max(outstanding, ZERO)
        for me, amount in by_month.items():
            due = me + timedelta(days=terms.payment_lag_days)
            dues[due] = dues.get(due, ZERO) + amount
    else:
        raise ValueError(f"deal {terms.deal_id}: structure {terms.structure!r}, "
                         f"expected {FIXED_RATE} or {REVENUE_SHARE}")
    return sorted(dues.items())


@exact
def days_past_due(day: date, dues: Sequence[tuple[date, Decimal]], cum_paid: Decimal) -> int:
    """FIFO days past due: 0 when everything due by `day` is covered (1e-6 tolerance),
    else the age of the earliest due date not yet covered."""
    cum_due = ZERO
    t0: date | None = None
    for due_date, amount in dues:
        if due_date > day:
            break
        cum_due += amount
        if t0 is None and cum_due > cum_paid + DPD_TOLERANCE:
            t0 = due_date
    if cum_paid >= cum_due - DPD_TOLERANCE or t0 is None:
        return 0
    return (day - t0).days


def loss_rate_for(dpd: int) -> Decimal:
    if dpd <= 30:
        return Decimal("0")
    if dpd <= 60:
        return Decimal("0.25")
    if dpd <= 90:
        return Decimal("0.50")
    return Decimal("1.00")


@exact
def deal_positions(terms: DealTerms, accruals: Sequence[Accrual],
                   collateral: Mapping[date, Decimal], recovery_rate: Decimal) -> list[DealPosition]:
    """Add delinquency, collateral cover and the allowance to a deal's accruals."""
    if terms.min_collateral_ratio is None:
        raise ValueError(f"deal {terms.deal_id}: min_collateral_ratio is required")
    dues = due_schedule(terms, accruals)
    out: list[DealPosition] = []
    cum_paid = ZERO
    prev_allowance = ZERO
    for a in accruals:
        cum_paid += a.applied
        dpd = days_past_due(a.day, dues, cum_paid)
        coll = collateral.get(a.day, ZERO)
        exposure = a.principal + a.receivable
        ratio = coll / exposure if exposure != 0 else None
        ltv = exposure / coll if coll != 0 else None
        breach = ratio is not None and ratio < terms.min_collateral_ratio
        rate = loss_rate_for(dpd)
        unsecured = max(ZERO, exposure - recovery_rate * coll)
        allowance = unsecured * rate
        carrying = exposure - allowance
        net_income = a.income - (allowance - prev_allowance)
        prev_allowance = allowance
        out.append(DealPosition(
            a.day, terms.deal_id, terms.structure, a.principal, a.receivable,
            a.accrued_today, a.income, a.receipts, dpd, coll, exposure, ratio, ltv, breach,
            rate, allowance, carrying, net_income, a.excess_cash))
    return out


def position_deal(terms: DealTerms, last: date, receipts: Mapping[date, Decimal],
                  invoices: Sequence[InvoiceLine], collateral: Mapping[date, Decimal],
                  recovery_rate: Decimal) -> list[DealPosition]:
    """Every day of one deal from its funding to `last`."""
    if terms.structure == FIXED_RATE:
        accruals = accrue_fixed_rate(terms, last, receipts)
    elif terms.structure == REVENUE_SHARE:
        revenue = revenue_by_day([i for i in invoices if i.deal_id == terms.deal_id],
                                 terms.funded_date, last)
        accruals = accrue_revenue_share(terms, last, revenue, receipts)
    else:
        raise ValueError(f"deal {terms.deal_id}: structure {terms.structure!r}, "
                         f"expected {FIXED_RATE} or {REVENUE_SHARE}")
    return deal_positions(terms, accruals, collateral, recovery_rate)
