"""The over-collateralisation buffer under GPU market-price shocks (docs/METHODOLOGY.md,
"Stress").

Each deal's end-of-day position is revalued with its GPU collateral marked down by each
shock: the collateral ratio it would then have, whether it would breach its covenant, the
allowance it would then need, and the book's NAV and backing ratio once every deal's
allowance is restated so. A robot deal's collateral is not a GPU, so a GPU shock leaves it
as it is. A deal's break-even haircut is the drop in its collateral's price at which the
collateral no longer covers the exposure: `1 - exposure / collateral_value`, 0 when the
collateral already does not cover it, null without collateral or without exposure.
Fees already accrued are left as they are: the shock is a view of the day's end, not a
new day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.exact import ONE, ZERO, exact

SHOCKS = (Decimal("0.10"), Decimal("0.30"), Decimal("0.50"))  # GPU market-price drops
SHOCKED_ASSET_CLASS = "gpu"


@dataclass(frozen=True)
class DealDay:
    """The figures of one deal's day that a shock moves (from the deal mart)."""

    day: date
    deal_id: str
    asset_class: str
    min_collateral_ratio: Decimal
    collateral_value: Decimal
    exposure: Decimal
    loss_rate: Decimal
    allowance: Decimal


@dataclass(frozen=True)
class BookDay:
    day: date
    nav_usd: Decimal
    aid_supply: Decimal


@dataclass(frozen=True)
class DealStress:
    day: date
    deal_id: str
    shock_pct: Decimal
    collateral_value: Decimal
    stressed_collateral_value: Decimal
    exposure: Decimal
    collateral_ratio: Decimal | None
    stressed_collateral_ratio: Decimal | None
    min_collateral_ratio: Decimal
    stressed_covenant_breach: bool
    break_even_haircut: Decimal | None
    allowance: Decimal
    stressed_allowance: Decimal
    book_nav_usd: Decimal | None
    book_stressed_nav_usd: Decimal | None
    book_stressed_backing_ratio: Decimal | None


@exact
def break_even_haircut(collateral_value: Decimal, exposure: Decimal) -> Decimal | None:
    """The collateral price drop at which collateral_value * (1 - h) = exposure."""
    if collateral_value <= 0 or exposure <= 0:
        return None
    return max(ZERO, ONE - exposure / collateral_value)


@exact
def stress_deals(deal_days: Sequence[DealDay], books: Mapping[date, BookDay],
                 recovery_rate: Decimal, shocks: Sequence[Decimal] = SHOCKS
                 ) -> list[DealStress]:
    """Every deal-day under every shock, with the book's figures under the same shock."""
    by_day: dict[date, list[DealDay]] = {}
    for d in deal_days:
        by_day.setdefault(d.day, []).append(d)
    out: list[DealStress] = []
    for day in sorted(by_day):
        book = books.get(day)
        for shock in shocks:
            rows = []
            extra_allowance = ZERO
            for d in sorted(by_day[day], key=lambda x: x.deal_id):
                factor = ONE - shock if d.asset_class == SHOCKED_ASSET_CLASS else ONE
                stressed = d.collateral_value * factor
                unsecured = max(ZERO, d.exposure - recovery_rate * stressed)
                stressed_allowance = unsecured * d.loss_rate
                extra_allowance += stressed_allowance - d.allowance
                ratio = d.collateral_value / d.exposure if d.exposure != 0 else None
                stressed_ratio = stressed / d.exposure if d.exposure != 0 else None
                rows.append((d, stressed, ratio, stressed_ratio, stressed_allowance))
            nav = book.nav_usd if book is not None else None
            stressed_nav = nav - extra_allowance if nav is not None else None
            backing = (stressed_nav / book.aid_supply
                       if book is not None and stressed_nav is not None and book.aid_supply != 0
                       else None)
            for d, stressed, ratio, stressed_ratio, stressed_allowance in rows:
                out.append(DealStress(
                    day, d.deal_id, shock, d.collateral_value, stressed, d.exposure, ratio,
                    stressed_ratio, d.min_collateral_ratio,
                    stressed_ratio is not None and stressed_ratio < d.min_collateral_ratio,
                    break_even_haircut(d.collateral_value, d.exposure), d.allowance,
                    stressed_allowance, nav, stressed_nav, backing))
    return out
