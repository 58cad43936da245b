"""Staker rewards per account and day, and the day's budget and dust (METHODOLOGY
section 5), in exact integers by ledger.rewards, walked from inception."""


def model(dbt, session):
    dbt.config(materialized="table")
    from datetime import timezone
    from decimal import Decimal

    from ledger.rewards import TokenTransfer, compute_rewards
    from ledger.tables import records, text_frame

    days = [r["day"] for r in records(dbt.ref("int_calendar_days"))]
    params = records(dbt.ref("int_ledger_params"))[0]
    addresses = records(dbt.ref("stg_registry__addresses"))
    said = {r["address"] for r in addresses if r["role"] == "said"}
    excluded = {r["address"] for r in addresses if r["role"] == "excluded"}
    transfer_rows = records(dbt.ref("stg_chain__transfers"))
    transfers = [
        TokenTransfer(r["block_ts_utc"].replace(tzinfo=timezone.utc), r["from_address"],
                      r["to_address"], int(r["value_units"]), (r["block_number"], r["log_index"]))
        for r in transfer_rows
        if r["token_address"] in said and days and r["day"] <= days[-1]
    ]
    budget_wei = int(Decimal(params["daily_rewards_budget_gaib"]) * 10**18)
    rows, summaries = compute_rewards(days, transfers, excluded, budget_wei)
    summary = {s.day: s for s in summaries}
    out = [{"day": r.day, "account": r.account, "twab": r.twab, "reward_wei": r.reward_wei,
            "cumulative_wei": r.cumulative_wei, "budget_wei": summary[r.day].budget_wei,
            "dust_wei": summary[r.day].dust_wei} for r in rows]
    # days without any row still need their budget and dust: one row with no account
    days_with_rows = {r.day for r in rows}
    for s in summaries:
        if s.day not in days_with_rows:
            out.append({"day": s.day, "account": None, "twab": None, "reward_wei": None,
                        "cumulative_wei": None, "budget_wei": s.budget_wei, "dust_wei": s.dust_wei})
    return text_frame(out, ["day", "account", "twab", "reward_wei", "cumulative_wei",
                            "budget_wei", "dust_wei"])
