"""NAV, fees payable, share price and APYs per day (METHODOLOGY section 4) in exact
decimals by ledger.nav, walked from inception to the window end."""


def model(dbt, session):
    dbt.config(materialized="table")
    import bisect
    from datetime import date
    from decimal import Decimal

    from ledger.nav import NavInputs, compute_nav
    from ledger.tables import records, text_frame

    def as_date(v):
        return v if isinstance(v, date) else date.fromisoformat(v)

    days = [r["day"] for r in records(dbt.ref("int_calendar_days"))]
    params = records(dbt.ref("int_ledger_params"))[0]
    carrying: dict = {}
    net_income: dict = {}
    for r in records(dbt.ref("int_deal_positions_computed")):
        d = as_date(r["day"])
        carrying[d] = carrying.get(d, Decimal(0)) + Decimal(r["carrying_value"])
        net_income[d] = net_income.get(d, Decimal(0)) + Decimal(r["net_income"])
    flow_rows = records(dbt.ref("int_chain_flows_daily"))
    flows = {r["day"]: r for r in flow_rows}
    offchain_rows = records(dbt.ref("stg_registry__offchain_reserves"))
    offchain = sorted((r["as_of"], r["amount_usd"]) for r in offchain_rows)
    offchain_days = [a for a, _ in offchain]

    totals = {"reserves": 0, "aid": 0, "said": 0, "assets": 0}
    first = days[0] if days else None
    for d, f in flows.items():  # everything before inception is the opening balance
        if first is not None and d < first:
            totals["reserves"] += int(f["reserves_delta_units"])
            totals["aid"] += int(f["aid_supply_delta_wei"])
            totals["said"] += int(f["said_supply_delta_wei"])
            totals["assets"] += int(f["said_assets_delta_wei"])
    inputs = []
    for d in days:
        f = flows.get(d)
        fees_paid = 0
        if f is not None:
            totals["reserves"] += int(f["reserves_delta_units"])
            totals["aid"] += int(f["aid_supply_delta_wei"])
            totals["said"] += int(f["said_supply_delta_wei"])
            totals["assets"] += int(f["said_assets_delta_wei"])
            fees_paid = int(f["fees_paid_units"])
        i = bisect.bisect_right(offchain_days, d)
        inputs.append(NavInputs(
            d, carrying.get(d, Decimal(0)), net_income.get(d, Decimal(0)),
            Decimal(totals["reserves"]) / Decimal(10**6),
            offchain[i - 1][1] if i else Decimal(0),
            Decimal(fees_paid) / Decimal(10**6),
            Decimal(totals["aid"]) / Decimal(10**18),
            Decimal(totals["said"]) / Decimal(10**18),
            Decimal(totals["assets"]) / Decimal(10**18)))
    out = compute_nav(inputs, params["protocol_fee_apr"], params["performance_fee_pct"])
    return text_frame(out, [
        "day", "carrying_value_total", "reserves_usd", "offchain_reserves_usd", "gross_assets",
        "protocol_fee", "performance_fee", "fees_payable", "nav_usd", "aid_supply",
        "backing_ratio", "said_supply", "said_assets", "share_price", "apy_7d", "apy_30d"])
