"""The Merkle root of every day's cumulative rewards (OpenZeppelin standard tree via
onchain.merkle), with the day's total, leaf count, budget and dust."""


def model(dbt, session):
    dbt.config(materialized="table")
    from datetime import date

    from ledger.tables import records, text_frame
    from onchain.merkle import build_tree

    by_day: dict = {}
    for r in records(dbt.ref("int_staker_rewards_computed")):
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
        entry = by_day.setdefault(day, {"leaves": [], "budget_wei": int(r["budget_wei"]),
                                        "dust_wei": int(r["dust_wei"])})
        if r["account"] is not None and int(r["cumulative_wei"]) > 0:
            entry["leaves"].append((r["account"], int(r["cumulative_wei"])))
    out = []
    for day in sorted(by_day):
        e = by_day[day]
        tree = build_tree(e["leaves"])
        out.append({"day": day, "root": tree.root,
                    "total_cumulative_wei": sum(c for _, c in e["leaves"]),
                    "accounts": len(e["leaves"]), "budget_wei": e["budget_wei"],
                    "dust_wei": e["dust_wei"]})
    return text_frame(out, ["day", "root", "total_cumulative_wei", "accounts", "budget_wei",
                            "dust_wei"])
