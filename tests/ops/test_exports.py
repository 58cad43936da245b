"""BI exports: one Parquet file per mart-day, decimals kept, readable without the warehouse."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from publishing.exports import ExportError, export_marts, partition_path
from tests.fixture_paths import WORKED_EXAMPLE_EXPECTED
from tests.ops.conftest import INCEPTION

DAYS = [INCEPTION + timedelta(days=i) for i in range(40)]


@pytest.fixture(scope="module")
def exported(example_warehouse, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("exports")
    con = duckdb.connect(str(example_warehouse))
    try:
        counts = export_marts(con, out, DAYS)
    finally:
        con.close()
    return out, counts


def expected_rows(name: str) -> list[dict[str, str]]:
    with open(WORKED_EXAMPLE_EXPECTED / f"{name}.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_mart_day_has_its_file_and_no_temporary_is_left(exported):
    out, counts = exported
    for mart in ("fct_nav_daily", "fct_deal_position_daily", "fct_gpu_operation_daily",
                 "fct_robot_operation_daily", "fct_asset_valuation_daily",
                 "fct_staker_rewards_daily", "fct_rewards_roots_daily"):
        for day in DAYS:
            assert partition_path(out, mart, day).is_file(), f"{mart} {day}"
    assert counts["fct_nav_daily"] == 40
    assert counts["fct_deal_position_daily"] == len(expected_rows("fct_deal_position_daily"))
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_parquet_keeps_decimal_38_18_and_the_worked_example_figures(exported):
    out, _ = exported
    con = duckdb.connect()  # no warehouse: what a BI tool would do
    try:
        types = dict(con.execute(
            f"select column_name, column_type from (describe select * from read_parquet("
            f"'{out}/fct_nav_daily/*/*.parquet', hive_partitioning = true))").fetchall())
        rows = con.execute(
            f"select day, nav_usd, share_price from read_parquet("
            f"'{out}/fct_nav_daily/*/*.parquet', hive_partitioning = true) order by day"
        ).fetchall()
    finally:
        con.close()
    assert types["nav_usd"] == "DECIMAL(38,18)" and types["share_price"] == "DECIMAL(38,18)"
    expected = expected_rows("fct_nav_daily")
    assert len(rows) == len(expected) == 40
    for (day, nav, price), e in zip(rows, expected):
        assert day.isoformat() == e["day"]
        assert nav == Decimal(e["nav_usd"]), day
        assert price == Decimal(e["share_price"]), day


def test_pandas_reads_one_day_partition(exported):
    pd = pytest.importorskip("pandas")
    out, _ = exported
    frame = pd.read_parquet(partition_path(out, "fct_deal_position_daily", date(2026, 2, 20)))
    expected = [r for r in expected_rows("fct_deal_position_daily") if r["day"] == "2026-02-20"]
    assert sorted(frame["deal_id"]) == sorted(r["deal_id"] for r in expected)
    assert len(frame) == len(expected) > 0


def test_a_reexport_replaces_the_day_file(example_warehouse, tmp_path):
    con = duckdb.connect(str(example_warehouse))
    try:
        day = date(2026, 2, 1)
        target = partition_path(tmp_path, "fct_nav_daily", day)
        target.parent.mkdir(parents=True)
        target.write_bytes(b"stale")
        export_marts(con, tmp_path, [day], marts=["fct_nav_daily"])
        assert duckdb.execute(f"select count(*) from read_parquet('{target}')").fetchone()[0] == 1
        with pytest.raises(ExportError, match="fct_nope"):
            export_marts(con, tmp_path, [day], marts=["fct_nope"])
    finally:
        con.close()
