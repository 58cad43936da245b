from datetime import date, datetime, timezone
from decimal import Decimal

from publishing.preflight import LastPosted, preflight_nav

NOW = datetime(2026, 3, 4, 1, 0, tzinfo=timezone.utc)


def test_a_normal_day_passes():
    # 1.059842 -> 1.060000 is a 1.49 bps move
    result = preflight_nav(
        date(2026, 3, 3), Decimal("1.060000"), Decimal("1.01"),
        LastPosted(date(2026, 3, 2), Decimal("1.059842")), Decimal(100), NOW,
    )
    assert result.passed, result.problems


def test_a_day_that_has_not_ended_is_refused():
    result = preflight_nav(
        date(2026, 3, 4), Decimal(1), Decimal(1), None, Decimal(100), NOW
    )
    assert not result.passed
    assert "has not ended" in result.problems[0]


def test_backing_under_one_is_refused():
    result = preflight_nav(
        date(2026, 3, 3), Decimal(1), Decimal("0.999"), None, Decimal(100), NOW
    )
    assert any("backing ratio 0.999" in p for p in result.problems)


def test_the_worked_example_loss_day_needs_an_override():
    # worked example: 1.059842 on 03-02, 1.044624 on 03-03: -1.44 %, beyond 100 bps
    last = LastPosted(date(2026, 3, 2), Decimal("1.059842"))
    refused = preflight_nav(
        date(2026, 3, 3), Decimal("1.044624"), Decimal("1.01"), last, Decimal(100), NOW
    )
    assert not refused.passed and "143.59 bps" in refused.problems[0]
    allowed = preflight_nav(
        date(2026, 3, 3), Decimal("1.044624"), Decimal("1.01"), last, Decimal(100), NOW,
        override_reason="impairment of D-ROB-FIX approved by risk",
    )
    assert allowed.passed
