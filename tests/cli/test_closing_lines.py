"""The closing lines of `aidnav run` tell a failed run apart: the days the warehouse holds
from an earlier run are not presented as this run's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from aidnav.config import Settings
from aidnav.console import print_closing

DAY = date(2026, 3, 2)


def _settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:1", chain_id=None)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema marts")
    con.execute("create table marts.fct_nav_daily (day date)")
    con.execute("create table marts.publications (day date, kind varchar, status varchar, "
                "tx_hash varchar)")
    con.execute("insert into marts.fct_nav_daily values (?)", [DAY])
    con.execute("insert into marts.publications values (?, 'nav', 'posted', '0xab')", [DAY])
    con.close()
    return settings


def test_a_failed_run_does_not_claim_an_earlier_runs_days(tmp_path, capsys):
    settings = _settings(tmp_path)
    outcome = {"success": False, "transactions": 0, "checks_failed": 1, "log": None}
    print_closing(settings, [DAY], outcome)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("the run failed: 0 transaction(s) sent, 1 check(s) failed")
    assert "earlier runs" in first


def test_a_run_that_succeeds_says_what_it_computed_and_posted(tmp_path, capsys):
    settings = _settings(tmp_path)
    outcome = {"success": True, "transactions": 0, "checks_failed": 0, "log": None}
    print_closing(settings, [DAY], outcome)
    assert capsys.readouterr().out.splitlines()[0] == (
        "1 of 1 day(s) computed, 1 on chain, 0 transaction(s) sent (already on chain), "
        "0 check(s) failed")
