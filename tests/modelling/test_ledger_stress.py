"""GPU price shocks on a two-deal book, figures by hand (recovery rate 0.70)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from ledger.exact import q18
from ledger.stress import BookDay, DealDay, break_even_haircut, stress_deals

DAY = date(2026, 3, 31)
# GPU deal: collateral 1,300 against 1,000, 31-60 days late (loss rate 0.25):
#   allowance = (1,000 - 0.70 x 1,300) x 0.25 = 22.5
GPU = DealDay(DAY, "D-GPU", "gpu", D("1.30"), D(1300), D(1000), D("0.25"), D("22.5"))
# robot deal: 500 against 400, current (loss rate 0): a GPU shock does not move it
ROBOT = DealDay(DAY, "D-ROB", "robot", D("1.30"), D(500), D(400), D(0), D(0))
BOOK = {DAY: BookDay(DAY, D(10000), D(9000))}


def _by(rows):
    return {(r.deal_id, r.shock_pct): r for r in rows}


def test_gpu_collateral_marked_down_by_each_shock():
    rows = _by(stress_deals([ROBOT, GPU], BOOK, D("0.70")))
    assert len(rows) == 6
    expected = {  # shock: (stressed collateral, ratio, stressed allowance)
        D("0.10"): (D(1170), D("1.17"), D("45.25")),    # (1,000 - 819) x 0.25
        D("0.30"): (D(910), D("0.91"), D("90.75")),     # (1,000 - 637) x 0.25
        D("0.50"): (D(650), D("0.65"), D("136.25")),    # (1,000 - 455) x 0.25
    }
    for shock, (coll, ratio, allowance) in expected.items():
        r = rows[("D-GPU", shock)]
        assert (r.stressed_collateral_value, r.stressed_collateral_ratio,
                r.stressed_allowance) == (coll, ratio, allowance)
        assert r.collateral_ratio == D(1300) / D(1000) and r.stressed_covenant_breach
        robot = rows[("D-ROB", shock)]
        assert (robot.stressed_collateral_value, robot.stressed_collateral_ratio,
                robot.stressed_allowance) == (D(500), D("1.25"), D(0))


def test_the_book_nav_loses_the_extra_allowance_under_each_shock():
    rows = _by(stress_deals([GPU, ROBOT], BOOK, D("0.70")))
    # 10,000 less (45.25 - 22.5), (90.75 - 22.5), (136.25 - 22.5); backing over 9,000 AID
    for shock, nav, backing in ((D("0.10"), D("9977.25"), "1.108583333333333333"),
                                (D("0.30"), D("9931.75"), "1.103527777777777778"),
                                (D("0.50"), D("9886.25"), "1.098472222222222222")):
        for deal in ("D-GPU", "D-ROB"):
            r = rows[(deal, shock)]
            assert r.book_nav_usd == D(10000) and r.book_stressed_nav_usd == nav
            assert q18(r.book_stressed_backing_ratio) == D(backing)


def test_break_even_haircut():
    # 1,300 x (1 - h) = 1,000  ->  h = 3/13
    assert q18(break_even_haircut(D(1300), D(1000))) == D("0.230769230769230769")
    assert break_even_haircut(D(900), D(1000)) == 0          # already under water
    assert break_even_haircut(D(0), D(1000)) is None          # nothing to mark down
    assert break_even_haircut(D(1300), D(0)) is None          # nothing to cover
