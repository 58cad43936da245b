"""Blocking checks in front of publishing; each wraps a plain function of `quality`."""


from datetime import date, datetime, timezone
from decimal import Decimal

import dagster as dg

from orchestration.resources import ChainResource, WarehouseResource


@dg.asset_check(
    asset=dg.AssetKey(["marts", "fct_nav_daily"]),
    blocking=True,
    description="NAV identity holds and every on-chain guardrail would accept the day.",
)
def nav_ready_to_publish(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, chain: ChainResource
) -> dg.AssetCheckResult:
    from aidnav.publication import contract_address, last_posted_nav
    from quality.preflight import preflight_nav

    # the check runs once per run; a single-run backfill checks its last day
    day = date.fromisoformat(context.run.tags.get("dagster/partition")
                             or context.run.tags.get("dagster/asset_partition_range_end"))
    con = warehouse.connect()
    try:
        row = con.execute(
            "select gross_assets, fees_payable, nav_usd, share_price, backing_ratio "
            "from marts.fct_nav_daily where day = ?", [day]
        ).fetchone()
        max_bps = Decimal(con.execute(
            "select value from raw.params where name = 'max_share_price_move_bps'").fetchone()[0])
        problems: list[str] = []
        if row is None:
            problems.append(f"fct_nav_daily has no row for {day}")
        else:
            gross, fees, nav, price, backing = row
            if abs(gross - fees - nav) > Decimal("1e-9"):
                problems.append(f"NAV identity broken: {gross} - {fees} != {nav}")
            w3 = chain.web3()
            oracle = contract_address(con, int(w3.eth.chain_id), "nav_oracle")
            last = last_posted_nav(w3, oracle)
            if last is None or last.day < day:
                now = datetime.now(timezone.utc)
                problems += list(preflight_nav(day, price, backing, last, max_bps, now).problems)
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"day": str(day), "problems": "\n".join(problems) or "none"},
        description="; ".join(problems) or "ready to publish",
    )
