"""A window larger than one great-expectations pass is validated in runs of whole days:
the failures found in every chunk add up to what one pass over the window finds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from quality import suites

D0 = date(2026, 3, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute("""create table marts.fct_robot_operation_daily (
        day date, asset_id varchar, operating_hours decimal(38,18), status varchar)""")
    # 4 days x 3 robots; three bad rows, on the first, third and last day
    rows = [(D0 + timedelta(days=d), f"robot-{r}", "8.5", "operating")
            for d in range(4) for r in range(3)]
    rows[0] = (D0, "robot-0", "25", "operating")            # more than 24 hours in a day
    rows[7] = (D0 + timedelta(days=2), "robot-1", "30", "operating")
    rows[-1] = (D0 + timedelta(days=3), "robot-2", "3", "parked")  # not an allowed status
    c.executemany("insert into marts.fct_robot_operation_daily values (?, ?, ?, ?)", rows)
    return c


def test_chunks_are_whole_days_bounded_by_rows(con, monkeypatch):
    monkeypatch.setattr(suites, "CHUNK_ROWS", 5)  # 3 rows a day: one day per chunk
    suite = suites.SUITES["marts.fct_robot_operation_daily"]
    assert suites._day_chunks(con, suite, D0, D0 + timedelta(days=3)) == [
        (D0 + timedelta(days=i), D0 + timedelta(days=i)) for i in range(4)]
    monkeypatch.setattr(suites, "CHUNK_ROWS", 6)  # two days fit
    assert suites._day_chunks(con, suite, D0, D0 + timedelta(days=3)) == [
        (D0, D0 + timedelta(days=1)), (D0 + timedelta(days=2), D0 + timedelta(days=3))]


def test_failures_found_in_separate_chunks_add_up(con, monkeypatch):
    whole = suites.validate_table(con, "marts.fct_robot_operation_daily", D0,
                                  D0 + timedelta(days=3))
    monkeypatch.setattr(suites, "CHUNK_ROWS", 3)
    chunked = suites.validate_table(con, "marts.fct_robot_operation_daily", D0,
                                    D0 + timedelta(days=3))
    for result in (whole, chunked):
        assert result.rows == 12
        found = {(f.expectation, f.column): f for f in result.failures}
        assert set(found) == {("expect_column_values_to_be_between", "operating_hours"),
                              ("expect_column_values_to_be_in_set", "status")}
        hours = found[("expect_column_values_to_be_between", "operating_hours")]
        assert hours.unexpected_count == 2 and hours.sample_values == (25.0, 30.0)
        status = found[("expect_column_values_to_be_in_set", "status")]
        assert status.unexpected_count == 1 and status.sample_values == ("parked",)
        assert status.rows[0]["asset_id"] == "robot-2"


def test_timestamped_rows_are_split_on_utc_days(con):
    con.execute("create schema raw")
    con.execute("create table raw.robot_records (robot_id varchar, ts timestamptz)")
    noon = datetime(2026, 3, 1, 23, 59, 59, tzinfo=timezone.utc)
    con.executemany("insert into raw.robot_records values (?, ?)",
                    [("r", noon), ("r", noon + timedelta(seconds=1))])
    suite = suites.SUITES["raw.robot_records"]
    assert len(suites.window_rows(con, suite, D0, D0)) == 1
    assert len(suites.window_rows(con, suite, D0, D0 + timedelta(days=1))) == 2
