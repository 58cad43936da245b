"""Deal positions per day (METHODOLOGY section 3) in exact decimals by
ledger.deals: every deal walked from its funding day to the window end."""


def model(dbt, session):
    dbt.config(materialized="table")
    from decimal import Decimal

    from ledger.deals import DealTerms, InvoiceLine, position_deal
    from ledger.tables import records, text_frame

    days = [r["day"] for r in records(dbt.ref("int_calendar_days"))]
    params = records(dbt.ref("int_ledger_params"))[0]
    invoice_rows = records(dbt.ref("int_invoices_latest"))
    invoices = [InvoiceLine(r["invoice_id"], r["deal_id"], r["period_start"], r["period_end"],
                            r["amount_usd"]) for r in invoice_rows]
    receipts: dict[str, dict] = {}
    for r in records(dbt.ref("int_deal_receipts_daily")):
        receipts.setdefault(r["deal_id"], {})[r["day"]] = Decimal(r["receipts_units"]) / Decimal(10**6)
    collateral: dict[str, dict] = {}
    for r in records(dbt.ref("int_asset_valuations_computed")):
        by_day = collateral.setdefault(r["deal_id"], {})
        day = r["day"] if not isinstance(r["day"], str) else __import__("datetime").date.fromisoformat(r["day"])
        by_day[day] = by_day.get(day, Decimal(0)) + Decimal(r["fair_value_exact"])
    out = []
    if days:
        for r in records(dbt.ref("stg_registry__deals")):
            terms = DealTerms(
                r["deal_id"], r["structure"], r["principal_usd"], r["funded_date"],
                r["maturity_date"], r["fixed_apr"], r["revenue_share_pct"], r["target_multiple"],
                r["tail_share_pct"], int(r["payment_lag_days"]), r["min_collateral_ratio"])
            for p in position_deal(terms, days[-1], receipts.get(r["deal_id"], {}), invoices,
                                   collateral.get(r["deal_id"], {}), params["recovery_rate"]):
                if p.day >= days[0]:
                    out.append(p)
    return text_frame(out, [
        "day", "deal_id", "structure", "principal", "receivable", "accrued_today", "income",
        "receipts", "dpd", "collateral_value", "exposure", "collateral_ratio", "ltv",
        "covenant_breach", "loss_rate", "allowance", "carrying_value", "net_income",
        "excess_cash"])
