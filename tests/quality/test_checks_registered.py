"""`dagster dev` shows the quality checks on every raw source and mart."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs

RAW = ["providers", "deals", "assets", "price_index", "offchain_reserves", "invoices",
       "gpu_samples", "robot_records", "chain_events"]
MARTS = ["fct_nav_daily", "fct_deal_position_daily", "fct_gpu_operation_daily",
         "fct_robot_operation_daily", "fct_asset_valuation_daily", "fct_staker_rewards_daily",
         "fct_rewards_roots_daily", "fct_deal_stress_daily"]


def _specs():
    graph = defs.resolve_asset_graph()
    return {k: graph.get_check_spec(k) for k in graph.asset_check_keys}


def test_every_raw_source_and_mart_has_a_blocking_suite():
    specs = _specs()
    for schema, tables in (("raw", RAW), ("marts", MARTS)):
        for table in tables:
            key = dg.AssetCheckKey(dg.AssetKey([schema, table]), f"suite_{table}")
            assert key in specs, key
            assert specs[key].blocking


def test_reconciliations_block_and_business_flags_warn():
    specs = {(k.asset_key.to_user_string(), k.name): s for k, s in _specs().items()}
    for blocking in (("marts/fct_nav_daily", "reserves_and_supplies_match_chain"),
                     ("marts/fct_nav_daily", "published_reports_unchanged"),
                     ("marts/fct_nav_daily", "nav_ready_to_publish"),
                     ("marts/fct_staker_rewards_daily", "rewards_budget_balances"),
                     ("raw/chain_events", "deal_funding_matches_registry")):
        assert specs[blocking].blocking, blocking
    for warning in (("marts/fct_deal_position_daily", "collateral_below_minimum"),
                    ("marts/fct_deal_position_daily", "deals_past_due"),
                    ("marts/fct_gpu_operation_daily", "assets_offline"),
                    ("marts/fct_gpu_operation_daily", "invoiced_hours_above_uptime")):
        assert not specs[warning].blocking, warning
