"""Publish assets: post the partition's NAV and rewards root to every configured chain
(`AIDNAV_CHAIN_TARGETS`, default the one `AIDNAV_RPC_URL`).

No retries here: the publisher is idempotent instead (it reads the chain before sending
and never posts a day twice). A chain that is down misses the day (warned, recorded as
pending) without stopping the others; the next run posts its pending days first.
"""


import dagster as dg

from modelling.replay import MART_EXPORTS
from orchestration.partitions import daily_partitions, run_days
from orchestration.resources import ChainResource, SignerResource, WarehouseResource

# every mart (the one list of them, the replay's MART_EXPORTS), as Dagster asset keys
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
    signer: SignerResource,
) -> dg.MaterializeResult:
    from publishing.publication import posted_report_figures, publish_days_to_targets
    from onchain.targets import configured_targets, connect_target

    settings = warehouse.settings()
    days = run_days(context)
    targets = configured_targets(chain.rpc_url, settings.chain_id)
    con = warehouse.connect()
    try:
        published, misses = publish_days_to_targets(
            con, settings.reports_dir, targets, days, connect_target, dry_run=config.dry_run,
            override_reason=config.override_reason, override_approver=config.override_approver,
            chain_dir=settings.chain_dir, signer_env=signer.env())
    finally:
        con.close()
    for item in published:
        r = item.publication
        context.log.info(
            f"{r.day} chain {item.chain_id}: NAV {r.nav_status} {r.nav_tx or ''}; "
            f"rewards {r.rewards_status} {r.rewards_tx or ''}"
            + (f"; restated (not posted): {r.nav_restated_hash}" if r.nav_restated_hash else "")
        )
    for miss in misses:
        context.log.warning(f"chain {miss.chain_id} ({miss.rpc_url}) missed {miss.day}: "
                            f"{miss.error}; pending, the next run posts it")
    last = [p.publication for p in published if p.publication.day == days[-1]][0]
    nav_usd, share_price, backing = posted_report_figures(settings.reports_dir, last.day)
    return dg.MaterializeResult(
        metadata={
            "days": dg.MetadataValue.int(len(days)),
            "chains": ", ".join(str(t.chain_id) for t in targets),
            "missed": dg.MetadataValue.json(
                [{"chain_id": m.chain_id, "day": m.day.isoformat(), "error": m.error}
                 for m in misses]),
            # the published report's figures, never a restatement's
            "nav_usd": dg.MetadataValue.float(float(nav_usd)),
            "share_price": dg.MetadataValue.float(float(share_price)),
            "backing_ratio": dg.MetadataValue.float(float(backing) if backing is not None else 0.0),
            "nav_status": last.nav_status,
            "nav_tx": last.nav_tx or "",
            "rewards_status": last.rewards_status,
            "rewards_tx": last.rewards_tx or "",
            "rewards_root": last.rewards_root,
            "nav_report": dg.MetadataValue.path(str(settings.reports_dir / "nav" / f"{last.day}.json")),
            "nav_report_hash": last.nav_report_hash,
            "nav_restated_hash": last.nav_restated_hash or "",
        }
    )
