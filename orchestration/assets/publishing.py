"""Publish assets: post the partition's NAV and rewards root to the chain.

No retries here: the publisher is idempotent instead (it reads the chain before sending
and never posts a day twice).
"""


from datetime import date

import dagster as dg

from aidnav.replay import MART_EXPORTS
from orchestration.partitions import daily_partitions
from orchestration.resources import ChainResource, WarehouseResource

# the seven marts (the replay's list of them), as Dagster asset keys
MART_KEYS = [dg.AssetKey(["marts", m]) for m in MART_EXPORTS]


class PublishConfig(dg.Config):
    dry_run: bool = False
    override_reason: str | None = None
    override_approver: str | None = None


@dg.asset(
    key=["onchain", "daily_publication"],
    # every mart, not only those read here: a blocking check failing on any of them (a
    # valuation or telemetry mart feeding the NAV, the rewards roots) keeps the day off chain
    deps=MART_KEYS,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="publishing",
    description="NAV posted to NavOracle and the rewards root to RewardsDistributor.",
)
def daily_publication(
    context: dg.AssetExecutionContext,
    config: PublishConfig,
    warehouse: WarehouseResource,
    chain: ChainResource,
) -> dg.MaterializeResult:
    from aidnav.publication import publish_day

    settings = warehouse.settings()
    days = [
        date.fromisoformat(k) for k in context.partition_keys
    ]
    con = warehouse.connect()
    results = []
    try:
        w3 = chain.web3()
        for day in days:
            results.append(
                publish_day(con, settings.reports_dir, w3, day, dry_run=config.dry_run,
                            override_reason=config.override_reason,
                            override_approver=config.override_approver)
            )
            context.log.info(
                f"{day}: NAV {results[-1].nav_status} {results[-1].nav_tx or ''}; "
                f"rewards {results[-1].rewards_status} {results[-1].rewards_tx or ''}"
            )
        nav = con.execute(
            "select nav_usd, share_price, backing_ratio from marts.fct_nav_daily where day = ?",
            [days[-1]],
        ).fetchone()
    finally:
        con.close()
    last = results[-1]
    return dg.MaterializeResult(
        metadata={
            "days": dg.MetadataValue.int(len(results)),
            "nav_usd": dg.MetadataValue.float(float(nav[0])),
            "share_price": dg.MetadataValue.float(float(nav[1])),
            "backing_ratio": dg.MetadataValue.float(float(nav[2]) if nav[2] is not None else 0.0),
            "nav_status": last.nav_status,
            "nav_tx": last.nav_tx or "",
            "rewards_status": last.rewards_status,
            "rewards_tx": last.rewards_tx or "",
            "rewards_root": last.rewards_root,
            "nav_report": dg.MetadataValue.path(str(settings.reports_dir / "nav" / f"{last.day}.json")),
            "nav_report_hash": last.nav_report_hash,
        }
    )
