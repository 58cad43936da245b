"""The NAV identity on stored figures allows what rounding each figure to 18 places on
its own makes (one unit of the 18th place), and nothing more."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.warehouse import connect
from quality.reconcile import nav_identity

D = date(2026, 3, 2)


@pytest.fixture
def con(tmp_path: Path):
    c = connect(tmp_path / "w.duckdb")
    c.execute("create schema marts")
    c.execute("create table marts.fct_nav_daily (day date, carrying_value_total decimal(38,18),"
              " reserves_usd decimal(38,18), offchain_reserves_usd decimal(38,18),"
              " gross_assets decimal(38,18), fees_payable decimal(38,18), nav_usd decimal(38,18))")
    c.execute("create table marts.fct_deal_position_daily (day date, carrying_value decimal(38,18))")
    yield c
    c.close()


def _day(con, gross: str, fees: str, nav: str) -> list[str]:
    con.execute("delete from marts.fct_nav_daily")
    con.execute("delete from marts.fct_deal_position_daily")
    con.execute("insert into marts.fct_nav_daily values (?, ?, 0, 0, ?, ?, ?)",
                [D, Decimal(gross), Decimal(gross), Decimal(fees), Decimal(nav)])
    con.execute("insert into marts.fct_deal_position_daily values (?, ?)", [D, Decimal(gross)])
    return nav_identity(con, D, D)


def test_one_unit_of_the_18th_place_is_rounding_two_is_a_broken_identity(con):
    # exact gross 100.0000000000000000006 -> stored 100.000000000000000001 (half-even up),
    # exact fees 0.0000000000000000004 -> stored 0, exact NAV 100.0000000000000000002 ->
    # stored 100.000000000000000000: stored gross - fees - nav = 1e-18
    assert _day(con, "100.000000000000000001", "0", "100.000000000000000000") == []
    assert _day(con, "100.000000000000000002", "0", "100.000000000000000000") == [
        "2026-03-02: NAV identity broken: gross 100.000000000000000002 - fees "
        "0E-18 != nav 100.000000000000000000"]
