"""The code location `dagster dev` loads: assets, checks, the job and its schedule."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from orchestration.definitions import defs

MARTS = [
    "fct_gpu_operation_daily", "fct_robot_operation_daily", "fct_asset_valuation_daily",
    "fct_deal_position_daily", "fct_nav_daily", "fct_staker_rewards_daily",
    "fct_rewards_roots_daily",
]


def test_every_layer_is_an_asset():
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    for source in ("raw/invoices", "raw/gpu_samples", "raw/robot_records", "raw/chain_events",
                   "raw/deals", "raw/assets", "raw/params"):
        assert source in keys
    for mart in MARTS:
        assert f"marts/{mart}" in keys
    assert "onchain/daily_publication" in keys


def test_publishing_sits_behind_a_blocking_check():
    graph = defs.resolve_asset_graph()
    check_key = dg.AssetCheckKey(dg.AssetKey(["marts", "fct_nav_daily"]), "nav_ready_to_publish")
    assert check_key in graph.asset_check_keys
    assert graph.get_check_spec(check_key).blocking
    publication = graph.get(dg.AssetKey(["onchain", "daily_publication"]))
    assert dg.AssetKey(["marts", "fct_nav_daily"]) in publication.parent_keys


def test_every_mart_check_stands_in_front_of_publishing():
    # a blocking check only stops the assets downstream of the one it checks
    graph = defs.resolve_asset_graph()
    publication = graph.get(dg.AssetKey(["onchain", "daily_publication"]))
    for mart in MARTS:
        key = dg.AssetKey(["marts", mart])
        assert key in publication.parent_keys, mart
        assert any(c.asset_key == key and graph.get_check_spec(c).blocking
                   for c in graph.asset_check_keys), mart


def test_daily_job_is_partitioned_by_day():
    job = defs.resolve_job_def("daily_nav")
    assert job.partitions_def is not None
    assert job.partitions_def.get_partition_keys()[0] == "2025-01-01"


def test_schedule_asks_for_the_day_that_just_ended_once():
    schedule = defs.resolve_schedule_def("daily_nav_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc),
        repository_def=defs.get_repository_def(),
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-11-24"
    assert request.run_key == "2026-11-24"
