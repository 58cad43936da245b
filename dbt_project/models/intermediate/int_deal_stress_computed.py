"""Each deal's position and the book's NAV under GPU market-price shocks (METHODOLOGY
"Stress") in exact decimals by ledger.stress."""


def model(dbt, session):
    dbt.config(materialized="table")
    from datetime import date
    from decimal import Decimal

    from ledger.stress import BookDay, DealDay, stress_deals
    from ledger.tables import records, text_frame

    def as_date(v):
        return v if isinstance(v, date) else date.fromisoformat(v)

    params = records(dbt.ref("int_ledger_params"))
    deals = {r["deal_id"]: r for r in records(dbt.ref("stg_registry__deals"))}
    books = {}
    for r in records(dbt.ref("int_nav_computed")):
        books[as_date(r["day"])] = BookDay(as_date(r["day"]), Decimal(r["nav_usd"]),
                                           Decimal(r["aid_supply"]))
    deal_days = [
        DealDay(as_date(r["day"]), r["deal_id"], deals[r["deal_id"]]["asset_class"],
                Decimal(deals[r["deal_id"]]["min_collateral_ratio"]),
                Decimal(r["collateral_value"]), Decimal(r["exposure"]), Decimal(r["loss_rate"]),
                Decimal(r["allowance"]))
        for r in records(dbt.ref("int_deal_positions_computed"))]
    out = stress_deals(deal_days, books, Decimal(params[0]["recovery_rate"])) if params else []
    return text_frame(out, [
        "day", "deal_id", "shock_pct", "collateral_value", "stressed_collateral_value",
        "exposure", "collateral_ratio", "stressed_collateral_ratio", "min_collateral_ratio",
        "stressed_covenant_breach", "break_even_haircut", "allowance", "stressed_allowance",
        "book_nav_usd", "book_stressed_nav_usd", "book_stressed_backing_ratio"])
