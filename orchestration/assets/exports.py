"""Outputs for people and BI tools, downstream of the marts: per-day Parquet exports and
the daily NAV report (HTML with inline SVG charts). Both only wire `aidnav` functions."""


import dagster as dg

from orchestration.assets.publishing import MART_KEYS
from orchestration.partitions import daily_partitions, run_days
from orchestration.resources import WarehouseResource


@dg.asset(
    key=["exports", "marts_parquet"],
    deps=MART_KEYS,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="exports",
    description="Every mart, one Parquet file per day under exports/<mart>/date=<day>/, "
                "written atomically so BI tools never touch the DuckDB file.",
)
def marts_parquet(context: dg.AssetExecutionContext,
                  warehouse: WarehouseResource) -> dg.MaterializeResult:
    from publishing.exports import export_marts

    days = run_days(context)
    exports_dir = warehouse.settings().exports_dir
    con = warehouse.connect()
    try:
        counts = export_marts(con, exports_dir, days)
    finally:
        con.close()
    metadata: dict = {f"rows_{m}": dg.MetadataValue.int(n) for m, n in counts.items()}
    metadata["days"] = dg.MetadataValue.int(len(days))
    metadata["exports_dir"] = dg.MetadataValue.path(str(exports_dir))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "daily_html"],
    deps=MART_KEYS + [dg.AssetKey(["onchain", "daily_publication"])],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="exports",
    description="The daily NAV report: reports/html/<day>.html and index.html, charts "
                "inline (no network needed to view them).",
)
def daily_html(context: dg.AssetExecutionContext,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    from publishing.daily_report import render_reports

    days = run_days(context)
    out_dir = warehouse.settings().reports_dir / "html"
    con = warehouse.connect()
    try:
        summary = render_reports(con, out_dir, days)
    finally:
        con.close()
    last = summary["last"]
    metadata: dict = {
        "days": dg.MetadataValue.int(len(days)),
        "report": dg.MetadataValue.path(str(last["path"])),
        "report_url": dg.MetadataValue.url(last["path"].resolve().as_uri()),
        "index": dg.MetadataValue.path(str(summary["index"])),
    }
    for name in ("nav_usd", "share_price", "backing_ratio", "gpu_coverage"):
        if last.get(name) is not None:
            metadata[name] = dg.MetadataValue.float(float(last[name]))
    return dg.MaterializeResult(metadata=metadata)
