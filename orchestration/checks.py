"""Asset checks: suites, reconciliations, business flags and the publication pre-flight.

Each wraps plain functions of `quality`. Suites and reconciliations are blocking (a
failure stops the assets downstream, so nothing is posted); business flags warn.
"""


from datetime import date
from typing import Any

import dagster as dg

from orchestration.partitions import run_days
from orchestration.resources import ChainResource, WarehouseResource

NAV = dg.AssetKey(["marts", "fct_nav_daily"])
REWARDS = dg.AssetKey(["marts", "fct_staker_rewards_daily"])
DEALS = dg.AssetKey(["marts", "fct_deal_position_daily"])


def _result(days: list[date], problems: list[str], blocking: bool = True,
            extra: dict[str, Any] | None = None, ok: str = "passed") -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata={
            "days": f"{days[0]} .. {days[-1]}",
            "problem_count": dg.MetadataValue.int(len(problems)),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:50]) or "none"),
            **(extra or {}),
        },
        description="; ".join(problems[:3]) or ok,
    )


# ---------------------------------------------------------------- expectation suites
def _suite_check(asset_key: list[str], table: str):
    @dg.asset_check(
        asset=dg.AssetKey(asset_key),
        name=f"suite_{table.split('.')[1]}",
        blocking=True,
        description=f"Expectation suite of {table} on the run's rows (types, ranges, "
                    "uniqueness, freshness, registry references, allowed values).",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from quality.gx_runner import data_docs
        from quality.reporting import quarantine_failures
        from quality.suites import SUITES, validate_table

        days = run_days(context)
        con = warehouse.connect()
        try:
            # the run's great-expectations Data Docs site: every suite of the run in one index
            with data_docs(warehouse.settings().reports_dir / "quality" / context.run.run_id) as docs:
                result = validate_table(con, table, days[0], days[-1])
            quarantined = quarantine_failures(con, result, table) if SUITES[table].raw else 0
        finally:
            con.close()
        problems = [f"{table}: {f.describe()}" for f in result.failures]
        failures = {f"{f.expectation} {f.column or ''}".strip(): {
            "unexpected_count": f.unexpected_count, "sample_values": list(f.sample_values),
            "rows": list(f.rows[:10])} for f in result.failures}
        return _result(days, problems, extra={
            "rows": dg.MetadataValue.int(result.rows),
            "expectations": dg.MetadataValue.int(result.evaluated),
            "failures": dg.MetadataValue.json(failures),
            "quarantined_rows": dg.MetadataValue.int(quarantined),
            "data_docs": dg.MetadataValue.path(str(docs)),
        })

    return _check


def _suite_checks() -> list:
    """One blocking check per suite of quality.suites (its owner): every raw source and
    every mart the suites know."""
    from quality.suites import SUITES

    return [_suite_check(table.split("."), table) for table in SUITES]


SUITE_CHECKS = _suite_checks()


# ---------------------------------------------------------------- reconciliations
@dg.asset_check(asset=NAV, blocking=True,
                description="Reserves and AID/sAID supplies from events = balanceOf/totalSupply "
                            "at the day's last block = the NAV mart.")
def reserves_and_supplies_match_chain(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, chain: ChainResource
) -> dg.AssetCheckResult:
    from quality.reconcile import reconcile_chain_balances

    days = run_days(context)
    con = warehouse.connect()
    try:
        w3 = chain.web3()
        problems = [p for day in days for p in reconcile_chain_balances(con, w3, day)]
    finally:
        con.close()
    return _result(days, problems)


@dg.asset_check(asset=dg.AssetKey(["raw", "chain_events"]), blocking=True,
                description="Every deal's funding is a USDC transfer from the treasury to its "
                            "provider_address of principal_usd on funded_date.")
def deal_funding_matches_registry(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, chain: ChainResource
) -> dg.AssetCheckResult:
    from quality.reconcile import reconcile_funding

    days = run_days(context)
    con = warehouse.connect()
    try:
        problems = reconcile_funding(con, int(chain.web3().eth.chain_id), days[-1])
    finally:
        con.close()
    return _result(days, problems)


@dg.asset_check(asset=REWARDS, blocking=True,
                description="Rewards paid + dust carried = the day's budget, to the wei.")
def rewards_budget_balances(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    from quality.reconcile import reconcile_rewards_budget

    days = run_days(context)
    con = warehouse.connect()
    try:
        problems = reconcile_rewards_budget(con, days[0], days[-1])
    finally:
        con.close()
    return _result(days, problems)


@dg.asset_check(asset=NAV, blocking=True,
                description="Each posted report on disk (`<kind>/<day>.json`; restatements are "
                            "written beside it) still hashes to the posted hash.")
def published_reports_unchanged(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    from quality.reconcile import reconcile_report_hashes

    days = run_days(context)
    con = warehouse.connect()
    try:
        problems = reconcile_report_hashes(con, warehouse.settings().reports_dir, days[-1])
    finally:
        con.close()
    return _result(days, problems)


# ---------------------------------------------------------------- business flags (WARN)
def _flag_check(asset: dg.AssetKey, name: str, func_name: str, description: str):
    @dg.asset_check(asset=asset, name=name, blocking=False, description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from quality import flags

        days = run_days(context)
        con = warehouse.connect()
        try:
            rows = getattr(flags, func_name)(con, days[0], days[-1])
        finally:
            con.close()
        problems = [", ".join(f"{k}={v}" for k, v in r.items()) for r in rows]
        return _result(days, problems, blocking=False, ok="nothing flagged")

    return _check


FLAG_CHECKS = [
    _flag_check(DEALS, "collateral_below_minimum", "collateral_below_minimum",
                "Deals whose collateral ratio is under their minimum (warning)."),
    _flag_check(DEALS, "deals_past_due", "deals_past_due", "Deals past due (warning)."),
    _flag_check(dg.AssetKey(["marts", "fct_gpu_operation_daily"]), "assets_offline",
                "assets_offline", "GPUs and robots offline on the day (warning)."),
    _flag_check(dg.AssetKey(["marts", "fct_gpu_operation_daily"]), "invoiced_hours_above_uptime",
                "invoiced_hours_above_uptime",
                "Invoiced GPU hours above the hours telemetry saw the GPUs up (warning)."),
    _flag_check(dg.AssetKey(["raw", "robot_records"]), "unsigned_robot_deliveries",
                "unsigned_robot_deliveries",
                "Robot fleets delivering unsigned files: no node_address registered (warning)."),
]


# ---------------------------------------------------------------- pre-flight
@dg.asset_check(
    asset=NAV,
    blocking=True,
    description="NAV identity holds, telemetry did not collapse, and every on-chain guardrail "
                "would accept the day (an audited override lets a large move through).",
)
def nav_ready_to_publish(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, chain: ChainResource
) -> dg.AssetCheckResult:
    from publishing.preflight import preflight_days, publication_clock
    from publishing.publication import contract_address, last_posted_nav
    from quality.overrides import publish_config_from_run_config

    days = run_days(context)
    config = publish_config_from_run_config(context.run.run_config)
    con = warehouse.connect()
    try:
        w3 = chain.web3()
        last = last_posted_nav(w3, contract_address(con, int(w3.eth.chain_id), "nav_oracle"))
        verdicts = preflight_days(con, days, publication_clock(w3), last,
                                  warehouse.settings().data_dir, config.get("override_reason"),
                                  config.get("override_approver"))
    finally:
        con.close()
    problems = [p for v in verdicts for p in v.problems]
    overrides = {v.day.isoformat(): {**v.override.as_report(), "source": v.override.source}
                 for v in verdicts if v.override is not None}
    return _result(days, problems, extra={"overrides": dg.MetadataValue.json(overrides)},
                   ok="ready to publish")


QUALITY_CHECKS = [
    *SUITE_CHECKS, reserves_and_supplies_match_chain, deal_funding_matches_registry,
    rewards_budget_balances, published_reports_unchanged, *FLAG_CHECKS, nav_ready_to_publish,
]
