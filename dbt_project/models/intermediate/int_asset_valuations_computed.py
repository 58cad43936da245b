"""Asset fair value per day (METHODOLOGY section 2), computed in exact decimals by
ledger.valuation. Every asset from the day it is observed to the window end."""


def model(dbt, session):
    dbt.config(materialized="table")
    from ledger.deals import days_between
    from ledger.tables import records, text_frame
    from ledger.valuation import (HEALTH_OFFLINE_STREAK_DAYS, Asset, MarketIndex,
                                         value_asset_days)

    days = [r["day"] for r in records(dbt.ref("int_calendar_days"))]
    deals = {r["deal_id"]: r for r in records(dbt.ref("stg_registry__deals"))}
    price_rows = records(dbt.ref("stg_registry__price_indexes"))
    index = MarketIndex([(r["model"], r["as_of"], r["market_index"]) for r in price_rows])
    # only the streaks that make an asset unhealthy change a value: every other asset-day
    # counts as streak 0
    streaks: dict = {}
    for relation in [dbt.ref("fct_gpu_operation_daily"), dbt.ref("fct_robot_operation_daily")]:
        unhealthy = relation.filter(f"offline_streak_days >= {HEALTH_OFFLINE_STREAK_DAYS}")
        for day, asset_id, streak in unhealthy.project(
                "day, asset_id, offline_streak_days").fetchall():
            streaks.setdefault(asset_id, {})[day] = streak
    out = []
    if days:
        for r in records(dbt.ref("stg_registry__assets")):
            deal = deals[r["deal_id"]]
            asset = Asset(r["asset_id"], r["deal_id"], r["model"], r["purchase_price_usd"],
                          r["acquired_date"], r["useful_life_days"], r["residual_pct"])
            first = max(r["acquired_date"], deal["funded_date"], days[0])
            out.extend(value_asset_days(asset, days_between(first, days[-1]), index,
                                        streaks.get(r["asset_id"], {})))
    frame = text_frame(out, ["day", "asset_id", "deal_id", "book_value", "market_index",
                             "health_factor", "fair_value"])
    # unrounded fair value: collateral sums it before any rounding, like every other figure
    frame["fair_value_exact"] = [str(v.fair_value) for v in out]
    return frame
