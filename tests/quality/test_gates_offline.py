"""Suites, reconciliations and overrides on small hand-built warehouses (no chain)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from publishing.publication import PUBLICATIONS_DDL
from ingestion.warehouse import connect
from quality.overrides import OverrideError, publish_config_from_run_config, resolve_override
from publishing.preflight import telemetry_collapse
from quality.reconcile import (
    nav_identity,
    reconcile_funding,
    reconcile_report_hashes,
    reconcile_rewards_budget,
)
from quality.reporting import quarantine_failures, write_html_summary
from quality.suites import validate_table

D = date(2026, 3, 2)
TREASURY = "0x" + "11" * 20
PROVIDER = "0x" + "22" * 20
USDC = "0x" + "33" * 20


@pytest.fixture
def con(tmp_path: Path):
    c = connect(tmp_path / "w.duckdb")
    c.execute("insert into raw.providers values ('P1', 'Prov', 'TH', true, '2026-01-01')")
    c.execute(f"""insert into raw.deals values
        ('D1', 'P1', 'gpu', 'fixed_rate', 1000, '2026-03-01', '2027-03-01', 0.1, null, null,
         null, null, 1.3, '{PROVIDER}', '0x{'44' * 20}')""")
    c.execute(f"insert into raw.addresses values (1, 'treasury', '{TREASURY}', 't'), "
              f"(1, 'usdc', '{USDC}', 'u')")
    yield c
    c.close()


def _transfer(con, value: int, ts: str, to: str = PROVIDER) -> None:
    con.execute(
        "insert into raw.chain_events (chain_id, block_number, block_timestamp, tx_hash, log_index,"
        " address, event, arg_from, arg_to, arg_value) values (1, 5, ?, ?, 0, ?, 'Transfer', ?, ?, ?)",
        [ts, "0x" + hashlib.sha256(ts.encode()).hexdigest(), USDC, TREASURY, to, value])


def test_a_deal_with_an_unknown_provider_fails_the_deals_suite_and_is_quarantined(con):
    con.execute("update raw.deals set provider_id = 'P-NOPE'")
    result = validate_table(con, "raw.deals", D, D)
    assert not result.passed
    failure = next(f for f in result.failures if f.column == "provider_id")
    assert failure.unexpected_count == 1 and failure.sample_values == ("P-NOPE",)
    assert failure.rows == ({"deal_id": "D1", "provider_id": "P-NOPE"},)
    assert quarantine_failures(con, result, "raw.deals") == 1
    assert quarantine_failures(con, result, "raw.deals") == 1  # a re-run replaces its rows
    assert con.execute("select count(*), min(field) from raw.quarantine "
                       "where source = 'quality:raw.deals'").fetchone() == (1, "provider_id")


def test_the_registry_as_built_passes_its_suites(con):
    for table in ("raw.providers", "raw.deals"):
        assert validate_table(con, table, D, D).passed


def test_funding_matches_only_the_exact_principal_on_the_funded_date(con):
    _transfer(con, 999_000_000, "2026-03-01 10:00:00+00")
    assert reconcile_funding(con, 1, D) == [
        f"deal D1: no USDC transfer of 1000 from the treasury to {PROVIDER} on 2026-03-01 "
        "(transfers seen that day: 999)"]
    _transfer(con, 1_000_000_000, "2026-03-02 00:00:00+00")  # the next day: still missing
    assert len(reconcile_funding(con, 1, D)) == 1
    _transfer(con, 1_000_000_000, "2026-03-01 23:59:59+00")
    assert reconcile_funding(con, 1, D) == []


def test_rewards_must_balance_to_the_wei(con):
    con.execute("create schema marts")
    con.execute("create table marts.fct_rewards_roots_daily (day date, budget_wei decimal(38,0), "
                "dust_wei decimal(38,0))")
    con.execute("create table marts.fct_staker_rewards_daily (day date, reward_wei decimal(38,0))")
    con.execute("insert into raw.params values ('daily_rewards_budget_gaib', '10000')")
    budget = 10_000 * 10**18
    con.execute("insert into marts.fct_rewards_roots_daily values (?, ?, 3), (?, ?, 2)",
                [date(2026, 3, 1), budget, D, budget + 3])
    con.execute("insert into marts.fct_staker_rewards_daily values (?, ?), (?, ?)",
                [date(2026, 3, 1), budget - 3, D, budget])
    assert reconcile_rewards_budget(con, date(2026, 3, 1), D) == [
        "2026-03-02: rewards paid 10000000000000000000000 + dust 2 != budget "
        "10000000000000000000003 wei (difference -1)"]


def test_nav_identity_names_the_broken_figure(con):
    con.execute("create schema marts")
    con.execute("create table marts.fct_nav_daily (day date, carrying_value_total decimal(38,18),"
                " reserves_usd decimal(38,18), offchain_reserves_usd decimal(38,18),"
                " gross_assets decimal(38,18), fees_payable decimal(38,18), nav_usd decimal(38,18))")
    con.execute("create table marts.fct_deal_position_daily (day date, carrying_value decimal(38,18))")
    con.execute("insert into marts.fct_nav_daily values (?, 100, 50, 0, 150, 1, 148)", [D])
    con.execute("insert into marts.fct_deal_position_daily values (?, 100)", [D])
    assert nav_identity(con, D, D) == [
        "2026-03-02: NAV identity broken: gross 150.000000000000000000 - fees "
        "1.000000000000000000 != nav 148.000000000000000000"]


def test_a_report_changed_after_publication_is_named(con, tmp_path: Path):
    reports = tmp_path / "reports"
    (reports / "nav").mkdir(parents=True)
    body = b'{"kind":"nav"}'
    (reports / "nav" / "2026-03-02.json").write_bytes(body)
    posted = "0x" + hashlib.sha256(body).hexdigest()
    con.execute(PUBLICATIONS_DDL)
    con.execute("insert into marts.publications (day, kind, chain_id, status, report_hash) "
                "values (?, 'nav', 31337, 'posted', ?), (?, 'nav', 31338, 'pending', ?)",
                [D, posted, D, posted])
    # a restatement written beside the posted report is not the posted report
    (reports / "nav" / "2026-03-02.restated-1.json").write_bytes(b'{"kind":"nav","x":1}')
    assert reconcile_report_hashes(con, reports, D) == []
    (reports / "nav" / "2026-03-02.json").write_bytes(body + b" ")
    [problem] = reconcile_report_hashes(con, reports, D)
    assert problem.endswith(f"!= published report hash {posted} for 2026-03-02")


def test_coverage_under_half_of_the_trailing_mean_is_a_pipeline_fault():
    trailing = [Decimal("0.98")] * 7
    assert telemetry_collapse(D, Decimal("0.50"), trailing) is None  # 0.50 >= 0.49
    problem = telemetry_collapse(D, Decimal("0.48"), trailing)
    assert problem and "0.480" in problem and "trailing 7-day mean 0.980" in problem
    assert telemetry_collapse(D, Decimal("0.10"), []) is None  # no history yet


def test_overrides_from_file_and_run_config(tmp_path: Path):
    assert resolve_override(tmp_path, D) is None
    path = tmp_path / "overrides" / "2026-03-02.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"reason": "impairment D-ROB-FIX", "approver": "cro"}))
    found = resolve_override(tmp_path, D)
    assert (found.reason, found.approver, found.source) == ("impairment D-ROB-FIX", "cro", str(path))
    from_config = resolve_override(tmp_path, D, "from the UI", "ops")
    assert (from_config.reason, from_config.source) == ("from the UI", "run_config")
    path.write_text(json.dumps({"reason": "no approver"}))
    with pytest.raises(OverrideError, match="2026-03-02.json: field 'approver'"):
        resolve_override(tmp_path, D)


def test_the_publish_op_config_is_found_in_run_config():
    run_config = {"ops": {"onchain__daily_publication": {"config": {"override_reason": "r"}}}}
    assert publish_config_from_run_config(run_config) == {"override_reason": "r"}
    assert publish_config_from_run_config({}) == {}


def test_the_html_summary_names_the_failure(con, tmp_path: Path):
    con.execute("update raw.deals set structure = 'bullet'")
    result = validate_table(con, "raw.deals", D, D)
    page = write_html_summary(tmp_path / "q" / "deals.html", "deals", [result]).read_text()
    assert "expect_column_values_to_be_in_set on structure: 1 row(s), e.g. [&#x27;bullet&#x27;]" in page


def test_a_deal_without_provider_address_is_funded_by_the_exact_principal(con):
    """The contract lets provider_address be empty: the deal is still checked for its
    funding, a treasury transfer of exactly its principal on its funded date to an address
    outside the reserves."""
    collection, someone = "0x" + "44" * 20, "0x" + "55" * 20
    con.execute("update raw.deals set provider_address = null, collection_address = ?",
                [collection])
    con.execute(f"insert into raw.addresses values (1, 'collection', '{collection}', 'c')")
    assert reconcile_funding(con, 1, D) == [
        "deal D1: no USDC transfer of 1000 from the treasury to its provider on 2026-03-01 "
        "(transfers seen that day: none)"]
    _transfer(con, 1_000_000_000, "2026-03-01 09:00:00+00", collection)  # between reserves
    assert len(reconcile_funding(con, 1, D)) == 1
    _transfer(con, 1_000_000_000, "2026-03-01 10:00:00+00", someone)
    assert reconcile_funding(con, 1, D) == []
