"""NAV, fees payable, backing and the sAID share price (METHODOLOGY section 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ledger.exact import ONE, ZERO, exact

DAYS_PER_YEAR = Decimal(365)
# An APY is reported only below this: fct_nav_daily holds it as DECIMAL(38,18). A share
# price 2.42 times that of a week before already compounds past it ((2.42)^(365/7) > 1e20).
APY_LIMIT = Decimal(10) ** 20


@dataclass(frozen=True)
class NavInputs:
    """The day's inputs, all in USD / whole tokens (not wei)."""

    day: date
    carrying_value_total: Decimal
    net_income_total: Decimal
    reserves_usd: Decimal
    offchain_reserves_usd: Decimal
    fees_paid: Decimal
    aid_supply: Decimal
    said_supply: Decimal
    said_assets: Decimal


@dataclass(frozen=True)
class NavDay:
    day: date
    carrying_value_total: Decimal
    reserves_usd: Decimal
    offchain_reserves_usd: Decimal
    gross_assets: Decimal
    protocol_fee: Decimal
    performance_fee: Decimal
    fees_payable: Decimal
    nav_usd: Decimal
    aid_supply: Decimal
    backing_ratio: Decimal | None
    said_supply: Decimal
    said_assets: Decimal
    share_price: Decimal
    apy_7d: Decimal | None
    apy_30d: Decimal | None


@exact
def apy(price_now: Decimal, price_then: Decimal | None, days: int) -> Decimal | None:
    """`(p(D) / p(D-n)) ^ (365/n) - 1`; None without a positive base, and None when it is
    not below APY_LIMIT (a jump of the share price that no annual rate describes)."""
    if price_then is None or price_then <= 0 or price_now <= 0:
        return None
    value = (price_now / price_then) ** (DAYS_PER_YEAR / Decimal(days)) - ONE
    return value if value < APY_LIMIT else None


@exact
def compute_nav(inputs: Sequence[NavInputs], protocol_fee_apr: Decimal,
                performance_fee_pct: Decimal) -> list[NavDay]:
    """Walk consecutive days from inception. Fees payable starts at 0 and the share
    price at 1; the share price carries while no sAID exists; APYs need a base day in
    the books (null before inception + n)."""
    out: list[NavDay] = []
    fees_payable = ZERO
    share_price = ONE
    prices: dict[date, Decimal] = {}
    previous: date | None = None
    for x in inputs:
        if previous is not None and x.day != previous + timedelta(days=1):
            raise ValueError(f"NAV inputs must be consecutive days: {previous} then {x.day}")
        previous = x.day
        gross = x.carrying_value_total + x.reserves_usd + x.offchain_reserves_usd
        protocol_fee = gross * protocol_fee_apr / DAYS_PER_YEAR
        performance_fee = performance_fee_pct * max(ZERO, x.net_income_total)
        fees_payable = fees_payable + protocol_fee + performance_fee - x.fees_paid
        nav = gross - fees_payable
        backing = nav / x.aid_supply if x.aid_supply != 0 else None
        if x.said_supply != 0:
            surplus = nav - x.aid_supply
            share_price = (x.said_assets + surplus) / x.said_supply
        prices[x.day] = share_price
        out.append(NavDay(
            x.day, x.carrying_value_total, x.reserves_usd, x.offchain_reserves_usd, gross,
            protocol_fee, performance_fee, fees_payable, nav, x.aid_supply, backing,
            x.said_supply, x.said_assets, share_price,
            apy(share_price, prices.get(x.day - timedelta(days=7)), 7),
            apy(share_price, prices.get(x.day - timedelta(days=30)), 30)))
    return out
