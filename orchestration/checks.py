"""Blocking checks in front of publishing; each wraps a plain function of `quality`."""


from datetime import date, datetime, timedelta, timezone
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
    from quality.preflight import LastPosted, preflight_nav

    days = run_days(context.run.tags)
    con = warehouse.connect()
    problems: list[str] = []
    try:
        max_bps = Decimal(con.execute(
            "select value from raw.params where name = 'max_share_price_move_bps'").fetchone()[0])
        rows = {
            r[0]: r[1:] for r in con.execute(
                "select day, gross_assets, fees_payable, nav_usd, share_price, backing_ratio "
                "from marts.fct_nav_daily where day between ? and ? order by day",
                [days[0], days[-1]],
            ).fetchall()
        }
        w3 = chain.web3()
        last = last_posted_nav(w3, contract_address(con, int(w3.eth.chain_id), "nav_oracle"))
        now = datetime.now(timezone.utc)
        for day in days:
            if day not in rows:
                problems.append(f"{day}: fct_nav_daily has no row")
                continue
            gross, fees, nav, price, backing = rows[day]
            if gross - fees != nav:
                problems.append(f"{day}: NAV identity broken: {gross} - {fees} != {nav}")
            if last is None or last.day < day:
                found = preflight_nav(day, price, backing, last, max_bps, now).problems
                problems += [f"{day}: {p}" for p in found]
                # the next day of a backfill is compared with this one, as the chain will
                last = LastPosted(day, price)
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "days": f"{days[0]} .. {days[-1]}",
            "problems": "\n".join(problems) or "none",
        },
        description="; ".join(problems[:3]) or "ready to publish",
    )


def run_days(tags: dict[str, str]) -> list[date]:
    """The days of a run: its partition, or every day of a single-run backfill's range."""
    if "dagster/partition" in tags:
        return [date.fromisoformat(tags["dagster/partition"])]
    start = date.fromisoformat(tags["dagster/asset_partition_range_start"])
    end = date.fromisoformat(tags["dagster/asset_partition_range_end"])
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
