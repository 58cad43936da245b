"""One source for the rewards root that is posted: `marts.fct_rewards_roots_daily`. The tree
built again from the leaves only asserts that it agrees; when it does not, nothing of the
day is written or published."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from publishing.publication import PublishBlocked, prepare_day
from ingestion.warehouse import connect

DAY = date(2026, 3, 4)
TAMPERED = "0x" + "5a" * 32


@pytest.fixture()
def warehouse(example_warehouse, tmp_path):
    path = tmp_path / "data" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(example_warehouse, path)
    return path


def test_the_report_carries_the_marts_root(warehouse):
    reports = warehouse.parent / "reports"
    con = connect(warehouse)
    try:
        root, total = con.execute(
            "select root, total_cumulative_wei from marts.fct_rewards_roots_daily "
            "where day = ?", [DAY]).fetchone()
        prepare_day(con, reports, DAY)
    finally:
        con.close()
    report = json.loads((reports / "rewards" / f"{DAY}.json").read_text())
    assert (report["root"], report["total_cumulative_wei"]) == (root, str(int(total)))


@pytest.mark.parametrize("column, value", [("root", TAMPERED),
                                           ("total_cumulative_wei", "1")])
def test_a_mart_root_the_leaves_do_not_give_stops_the_publish(warehouse, column, value):
    reports = warehouse.parent / "reports"
    con = connect(warehouse)
    try:
        con.execute(f"update marts.fct_rewards_roots_daily set {column} = ? where day = ?",
                    [value, DAY])
        with pytest.raises(PublishBlocked, match=(
                f"{DAY}: marts.fct_rewards_roots_daily has root .* but the leaves of "
                "marts.fct_staker_rewards_daily give 0x[0-9a-f]{64} .*nothing published")):
            prepare_day(con, reports, DAY)
    finally:
        con.close()
    assert not list(reports.rglob("*.json"))  # neither report of the day was written
