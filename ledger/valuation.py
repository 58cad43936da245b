"""Asset fair value (METHODOLOGY section 2)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.exact import ONE, ZERO, exact

HEALTH_OFFLINE_STREAK_DAYS = 7


@dataclass(frozen=True)
class Asset:
    asset_id: str
    deal_id: str
    model: str
    purchase_price_usd: Decimal
    acquired_date: date
    useful_life_days: int
    residual_pct: Decimal


@dataclass(frozen=True)
class AssetValuation:
    day: date
    asset_id: str
    deal_id: str
    book_value: Decimal
    market_index: Decimal
    health_factor: int
    fair_value: Decimal


def _book_value(purchase_price: Decimal, residual_pct: Decimal, useful_life_days: int,
                age_days: int) -> Decimal:
    straight_line = ONE - (ONE - residual_pct) * Decimal(age_days) / Decimal(useful_life_days)
    return purchase_price * max(residual_pct, straight_line)


@exact
def book_value(purchase_price: Decimal, residual_pct: Decimal, useful_life_days: int,
               age_days: int) -> Decimal:
    """`purchase_price * max(residual, 1 - (1 - residual) * age / life)`."""
    return _book_value(purchase_price, residual_pct, useful_life_days, age_days)


class MarketIndex:
    """As-of lookup of `price_index` per model (1.0 when no row is on or before the day)."""

    def __init__(self, rows: list[tuple[str, date, Decimal]]):
        self._by_model: dict[str, tuple[list[date], list[Decimal]]] = {}
        for model, as_of, value in sorted(rows, key=lambda r: (r[0], r[1])):
            dates, values = self._by_model.setdefault(model, ([], []))
            dates.append(as_of)
            values.append(value)

    def at(self, model: str, day: date) -> Decimal:
        dates, values = self._by_model.get(model, ([], []))
        i = bisect.bisect_right(dates, day)
        return values[i - 1] if i else ONE


def _value(asset: Asset, day: date, index: MarketIndex, offline_streak_days: int) -> AssetValuation:
    age = (day - asset.acquired_date).days
    bv = _book_value(asset.purchase_price_usd, asset.residual_pct, asset.useful_life_days, age)
    mi = index.at(asset.model, day)
    health = 0 if offline_streak_days >= HEALTH_OFFLINE_STREAK_DAYS else 1
    fv = bv * mi * health if health else ZERO
    return AssetValuation(day, asset.asset_id, asset.deal_id, bv, mi, health, fv)


@exact
def value_asset_day(asset: Asset, day: date, index: MarketIndex,
                    offline_streak_days: int) -> AssetValuation:
    return _value(asset, day, index, offline_streak_days)


@exact
def value_asset_days(asset: Asset, days: Iterable[date], index: MarketIndex,
                     offline_streaks: Mapping[date, int]) -> list[AssetValuation]:
    """`value_asset_day` for each of `days` (one decimal context for all); a day missing
    from `offline_streaks` has streak 0."""
    return [_value(asset, d, index, offline_streaks.get(d, 0)) for d in days]
