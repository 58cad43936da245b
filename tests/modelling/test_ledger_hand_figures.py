"""The ledger against the hand figures of the worked example README ("Figures to check
by hand" 1-6). Every expected number below is written out from the README's arithmetic."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from ledger.deals import (
    DealTerms, InvoiceLine, accrue_fixed_rate, accrue_revenue_share, days_past_due,
    deal_positions, due_schedule, loss_rate_for, revenue_by_day,
)
from ledger.exact import to_text
from ledger.nav import NavInputs, compute_nav
from ledger.rewards import TokenTransfer, compute_rewards, days_from
from ledger.valuation import Asset, MarketIndex, book_value, value_asset_day

GPU_FIX = DealTerms("D-GPU-FIX", "fixed_rate", D(73000), date(2026, 1, 25), date(2026, 7, 24),
                    fixed_apr=D("0.10"), min_collateral_ratio=D("1.30"))
ROB_FIX = DealTerms("D-ROB-FIX", "fixed_rate", D(36500), date(2026, 1, 25), date(2027, 1, 24),
                    fixed_apr=D("0.12"), min_collateral_ratio=D("1.30"))
GPU_RS = DealTerms("D-GPU-RS", "revenue_share", D(18000), date(2026, 1, 25), date(2028, 1, 24),
                   revenue_share_pct=D("0.60"), target_multiple=D("1.25"),
                   tail_share_pct=D("0.10"), payment_lag_days=15,
                   min_collateral_ratio=D("1.30"))
RS_INVOICES = [  # retained versions: Jan v2, Feb v2 (35,000), credit note, March; INV-4 void
    InvoiceLine("INV-N2-0001", "D-GPU-RS", date(2026, 1, 1), date(2026, 1, 31), D(37200)),
    InvoiceLine("INV-N2-0002", "D-GPU-RS", date(2026, 2, 1), date(2026, 2, 28), D(35000)),
    InvoiceLine("INV-N2-0003", "D-GPU-RS", date(2026, 2, 10), date(2026, 2, 16), D(-1400)),
    InvoiceLine("INV-N2-0005", "D-GPU-RS", date(2026, 3, 1), date(2026, 3, 31), D(38750)),
]
LAST = date(2026, 3, 5)


def by_day(rows):
    return {r.day: r for r in rows}


def close(a, b, tol=D("0.000001")):
    return abs(D(a) - D(b)) <= tol


def test_figure1_fixed_rate_interest_waterfall_and_dues():
    receipts = {date(2026, 2, 2): D(140), date(2026, 2, 16): D(36820), date(2026, 3, 3): D(36900)}
    acc = accrue_fixed_rate(GPU_FIX, LAST, receipts)
    days = by_day(acc)
    assert days[date(2026, 1, 25)].accrued_today == 20
    assert days[date(2026, 2, 2)].receivable == 40
    assert days[date(2026, 2, 16)].principal == 36500 and days[date(2026, 2, 16)].receivable == 0
    assert days[date(2026, 2, 17)].accrued_today == 10
    d303 = days[date(2026, 3, 3)]
    assert (d303.principal, d303.receivable, d303.excess_cash, d303.receipts) == (0, 0, 250, 36900)
    dues = due_schedule(GPU_FIX, acc)
    assert dues[:2] == [(date(2026, 1, 31), D(140)), (date(2026, 2, 28), D(440))]
    pos = by_day(deal_positions(GPU_FIX, acc, {}, D("0.70")))
    assert pos[date(2026, 2, 1)].dpd == 1
    assert pos[date(2026, 2, 2)].dpd == 0
    assert pos[date(2026, 2, 28)].dpd == 0
    closed = pos[date(2026, 3, 3)]
    assert closed.exposure == 0 and closed.collateral_ratio is None and not closed.covenant_breach
    assert ROB_FIX.principal_usd * ROB_FIX.fixed_apr / 365 == 12


def test_figure2_revenue_share_day_and_tail_switch():
    revenue = revenue_by_day(RS_INVOICES, GPU_RS.funded_date, LAST)
    assert revenue[date(2026, 2, 12)] == 1050
    receipts = {date(2026, 2, 17): D(5040)}
    days = by_day(accrue_revenue_share(GPU_RS, LAST, revenue, receipts))
    d = days[date(2026, 2, 12)]
    assert (d.accrued_today, d.principal, d.income, d.receivable) == (630, 7056, 126, 13680)
    assert days[date(2026, 2, 17)].receivable == 11910
    d225 = days[date(2026, 2, 25)]
    assert (d225.accrued_today, d225.income, d225.principal) == (750, 510, 0)
    d226 = days[date(2026, 2, 26)]
    assert (d226.accrued_today, d226.income) == (125, 125)
    acc = accrue_revenue_share(GPU_RS, LAST, revenue, receipts)
    assert due_schedule(GPU_RS, acc)[0] == (date(2026, 2, 15), D(5040))
    pos = by_day(deal_positions(GPU_RS, acc, {}, D("0.70")))
    assert pos[date(2026, 2, 16)].dpd == 1 and pos[date(2026, 2, 17)].dpd == 0


def test_figure3_allowance_robot_deal():
    robot = Asset("PM-CR-000101", "D-ROB-FIX", "PM-CR-3", D(20000), date(2025, 7, 1), 1825, D("0.10"))
    index = MarketIndex([("PM-CR-3", date(2026, 1, 1), D(1)), ("PM-CR-3", date(2026, 2, 16), D("0.80"))])
    v = value_asset_day(robot, date(2026, 3, 3), index, 0)
    assert close(v.book_value, "17583.561644") and close(v.fair_value, "14066.849315")
    collateral = {}
    for day in days_from(date(2026, 1, 25), LAST):
        collateral[day] = 3 * value_asset_day(robot, day, index, 0).fair_value
    assert close(collateral[date(2026, 3, 3)], "42200.547945")
    acc = accrue_fixed_rate(ROB_FIX, LAST, {date(2026, 2, 10): D(50)})
    pos = by_day(deal_positions(ROB_FIX, acc, collateral, D("0.70")))
    p = pos[date(2026, 3, 3)]
    assert p.exposure == 36906 and p.dpd == 31 and p.loss_rate == D("0.25")
    assert close(p.allowance, "1841.404110") and close(p.net_income, "-1829.404110")
    p4 = pos[date(2026, 3, 4)]
    assert close(p4.allowance, "1848.546575") and close(p4.net_income, "4.857534")
    assert pos[date(2026, 2, 10)].dpd == 10  # 50 paid does not cover the 84 due on 01-31


def test_figure4_nav_and_share_price():
    def inputs(day, carrying, net_income, said=D(0)):
        return NavInputs(day, D(carrying), D(net_income), D(72500), D(0), D(0),
                         D(200000), said, said)
    nav = compute_nav([
        inputs(date(2026, 1, 25), 127676, 176),
        inputs(date(2026, 1, 26), 127852, 176, D(80000)),
        inputs(date(2026, 1, 27), 128028, 176, D(100000)),
    ], D("0.0025"), D("0.15"))
    assert close(nav[0].protocol_fee, "1.371068") and nav[0].performance_fee == D("26.40")
    assert close(nav[0].nav_usd, "200148.228932") and nav[0].share_price == 1
    assert close(nav[2].fees_payable, "83.316822")
    assert close(nav[2].share_price, "1.004447")
    assert nav[2].apy_7d is None and nav[2].apy_30d is None


def test_figure5_rewards_floor_and_dust():
    def at(day, hour):
        return datetime(2026, 1, day, hour, tzinfo=timezone.utc)
    zero = "0x" + "0" * 40
    alice, bob = "0xa11ce00000000000000000000000000000000001", "0xb0b0000000000000000000000000000000000002"
    transfers = [TokenTransfer(at(26, 9), zero, alice, 50000 * 10**18),
                 TokenTransfer(at(26, 15), zero, bob, 30000 * 10**18)]
    rows, days = compute_rewards(days_from(date(2026, 1, 25), date(2026, 1, 26)), transfers,
                                 set(), 10000 * 10**18)
    assert days[0].dust_wei == 10000 * 10**18 and days[0].accounts == 0
    assert days[1].budget_wei == 20000 * 10**18
    r = {row.account: row for row in rows if row.day == date(2026, 1, 26)}
    assert r[alice].twab == 31250 and r[bob].twab == 11250
    assert r[alice].reward_wei == 14_705_882_352_941_176_470_588
    assert r[bob].reward_wei == 5_294_117_647_058_823_529_411
    assert days[1].dust_wei == 1


def test_figure5_excluded_pool_earns_nothing():
    pool = "0x1b00000000000000000000000000000000000009"
    bob = "0xb0b0000000000000000000000000000000000002"
    t = [TokenTransfer(datetime(2026, 2, 9, tzinfo=timezone.utc), "0x" + "0" * 40, bob, 30000 * 10**18),
         TokenTransfer(datetime(2026, 2, 10, 18, tzinfo=timezone.utc), bob, pool, 5000 * 10**18)]
    rows, _ = compute_rewards([date(2026, 2, 10)], t, {pool}, 10**18)
    assert [(r.account, r.twab) for r in rows] == [(bob, D(28750))]


def test_figure6_fees_payable_carry():
    # 02-10 from the books of 02-09: 262.573192 + 202,838 x 0.0025/365 + 0.15 x 158
    assert close(D("262.573191780821917808") + D(202838) * D("0.0025") / 365 + D("0.15") * 158,
                 "287.662493")


@pytest.mark.parametrize("dpd,rate", [(0, "0"), (30, "0"), (31, "0.25"), (60, "0.25"),
                                      (61, "0.50"), (90, "0.50"), (91, "1.00")])
def test_loss_rate_buckets(dpd, rate):
    assert loss_rate_for(dpd) == D(rate)


def test_dpd_tolerance_sub_micro_dollar():
    dues = [(date(2026, 1, 31), D("84"))]
    assert days_past_due(date(2026, 2, 5), dues, D("83.9999995")) == 0
    assert days_past_due(date(2026, 2, 5), dues, D("83.99")) == 5


def test_book_value_floor_and_text():
    assert book_value(D(26000), D("0.10"), 1825, 5000) == D("2600.0")
    assert to_text(D("20.000000000000000000")) == "20"
    assert to_text(D("0.1234567890123456789")) == "0.123456789012345679"
