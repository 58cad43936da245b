"""Principal repaid on a revenue-share deal's maturity day counts once: what falls due at
maturity is the principal outstanding before that day's repayment. Figures by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from ledger.deals import DealTerms, InvoiceLine, position_deal

# 1,000 principal, 50 % share, target 1.25x; funded 1 Jan, matures 3 Jan 2026.
RS = DealTerms("D-RS", "revenue_share", D(1000), date(2026, 1, 1), date(2026, 1, 3),
               revenue_share_pct=D("0.50"), target_multiple=D("1.25"),
               tail_share_pct=D("0.10"), payment_lag_days=15, min_collateral_ratio=D("1.30"))
# 300 of revenue over 1-3 Jan: 100 a day, share 50 a day, 40 a day returns principal.
INVOICES = [InvoiceLine("INV-1", "D-RS", date(2026, 1, 1), date(2026, 1, 3), D(300))]


def _positions(receipts):
    return {p.day: p for p in position_deal(RS, date(2026, 2, 20), receipts, INVOICES, {},
                                            D("0.70"))}


def test_principal_paid_on_maturity_day_does_not_hide_a_later_arrear():
    # On maturity the provider pays 880: the 150 receivable first (the January share,
    # due 15 Feb), then 730 of the 880 principal left after three days of returns
    # (1,000 - 3 x 40). What falls due on 3 Jan is 880; on 15 Feb another 150.
    # Paid: 880. So 150 is unpaid from 15 Feb: dpd 0 on 15 Feb, 1 on 16 Feb, 5 on 20 Feb.
    pos = _positions({date(2026, 1, 3): D(880)})
    assert pos[date(2026, 1, 3)].principal == D(150)
    assert pos[date(2026, 1, 3)].receivable == D(0)
    assert pos[date(2026, 1, 3)].dpd == 0
    assert pos[date(2026, 2, 15)].dpd == 0
    assert pos[date(2026, 2, 16)].dpd == 1
    assert pos[date(2026, 2, 20)].dpd == 5


def test_a_provider_paying_everything_on_maturity_is_never_late():
    # 150 receivable + 880 principal = 1,030 on maturity day: nothing is ever past due.
    pos = _positions({date(2026, 1, 3): D(1030)})
    assert pos[date(2026, 1, 3)].principal == D(0)
    assert all(p.dpd == 0 for p in pos.values())
