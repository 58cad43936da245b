"""Source assets: the registry, the landing zone and the chain, loaded into `raw`.

Each asset only wires `ingestion` functions; every load is idempotent (a file ledger for
landing files, an upsert on (chain_id, tx_hash, log_index) for chain events), so a
re-run or a backfill never duplicates a row. Retries only here: reading is safe to repeat,
and only on an error that can pass on a second try (a connection, a timeout, a lock); any
other fails the step at once, its cause and remedy in one line.
"""


from collections.abc import Callable
from functools import partial

import dagster as dg

from ingestion.load import LOADERS
from orchestration.partitions import daily_partitions
from orchestration.resources import ChainResource, WarehouseResource
from orchestration.run_outcome import retried_only_when_transient

REGISTRY_TABLES = (
    "providers", "deals", "assets", "price_index", "offchain_reserves", "addresses", "params",
)
INGEST_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


def _stats_metadata(stats) -> dict:
    return {
        "files_read": dg.MetadataValue.int(stats.files_read),
        "files_skipped": dg.MetadataValue.int(stats.files_skipped),
        "rows_loaded": dg.MetadataValue.int(stats.rows_loaded),
        "rows_quarantined": dg.MetadataValue.int(stats.rows_quarantined),
        "seconds": dg.MetadataValue.float(round(stats.seconds, 3)),
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", t], group_name="registry", description=f"registry/{t}.csv")
        for t in REGISTRY_TABLES
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=INGEST_RETRY,
)
def registry(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """The registry CSVs, validated: an error stops the run, naming file, line and field.
    Parsed here once for the run: the other steps take it from the warehouse resource."""
    counts = {}
    with retried_only_when_transient(context, INGEST_RETRY, data_dir=warehouse.data_dir):
        con = warehouse.connect()
        try:
            warehouse.load_registry(con)
            for table in REGISTRY_TABLES:
                counts[table] = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
        finally:
            con.close()
    for table, count in counts.items():
        yield dg.MaterializeResult(
            asset_key=["raw", table], metadata={"rows": dg.MetadataValue.int(count)}
        )


def _landing_asset(key: str, source: str, loader: Callable, description: str,
                   on_cluster: bool = False):
    """The asset `raw/<key>`: the landing source `source` read by `loader` through
    `ingest_source`, its rejected records also written under `<data>/quarantine/` for
    people to read. A loader `on_cluster` runs its tasks on the warehouse resource's Dask
    scheduler (none: in the run's process)."""

    @dg.asset(
        key=["raw", key],
        deps=[dg.AssetKey(["raw", t]) for t in REGISTRY_TABLES],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingestion",
        retry_policy=INGEST_RETRY,
        description=description,
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from ingestion.load import ingest_source

        settings = warehouse.settings()
        load = (partial(loader, scheduler=settings.dask_scheduler or "") if on_cluster
                else loader)
        with retried_only_when_transient(context, INGEST_RETRY, data_dir=warehouse.data_dir):
            con = warehouse.connect()
            try:
                stats = ingest_source(con, source, settings.data_dir, warehouse.registry(con),
                                      quarantine_dir=settings.quarantine_dir, loader=load)
            finally:
                con.close()
        return dg.MaterializeResult(metadata=_stats_metadata(stats))

    _asset.__name__ = f"raw_{key}"
    return _asset


raw_invoices = _landing_asset(
    "invoices", "invoices", LOADERS["invoices"],
    "Provider invoices from landing/invoices; bad rows to raw.quarantine.",
)
raw_gpu_samples = _landing_asset(
    "gpu_samples", "gpu_telemetry", LOADERS["gpu_telemetry"],
    "Signed NVML telemetry batches, verified; forged or implausible samples quarantined; "
    "valid samples written once to the telemetry lake, per-GPU daily figures to the warehouse.",
    on_cluster=True,
)
raw_robot_records = _landing_asset(
    "robot_records", "robot_telemetry", LOADERS["robot_telemetry"],
    "Robot state records from landing/robot_telemetry.",
)


@dg.asset(
    key=["raw", "chain_events"],
    deps=[dg.AssetKey(["raw", "addresses"]), dg.AssetKey(["raw", "params"])],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingestion",
    retry_policy=INGEST_RETRY,
)
def raw_chain_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, chain: ChainResource
) -> dg.MaterializeResult:
    """Token Transfers and vault Deposits/Withdraws from the RPC, confirmed blocks only."""
    from ingestion.chain.events import ingest_chain_events

    with retried_only_when_transient(context, INGEST_RETRY, rpc_url=chain.rpc_url,
                                     data_dir=warehouse.data_dir):
        con = warehouse.connect()
        try:
            stats = ingest_chain_events(con, chain.web3(), warehouse.registry(con))
        finally:
            con.close()
    return dg.MaterializeResult(metadata=_stats_metadata(stats))
