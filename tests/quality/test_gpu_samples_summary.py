"""The GPU samples' suite reads a summary DuckDB computes over the window's samples, one row
per UTC day and GPU, not the samples themselves; each rule of the samples still holds, and a
breach names the day and the GPU (in the quarantine too)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from ingestion.warehouse import RAW_DDL
from quality import suites
from quality.reporting import quarantine_failures

D0 = date(2026, 3, 1)
D1 = D0 + timedelta(days=1)
COLUMNS = ("source_file", "line", "node_id", "gpu_uuid", "ts", "gpu_util_pct", "power_w",
           "temp_c", "energy_mj")


def _warehouse() -> duckdb.DuckDBPyConnection:
    """GPUs G1, G2 on node N1 and G3 on node N2; a robot R1 (neither a GPU nor a node)."""
    con = duckdb.connect()
    con.execute(RAW_DDL)
    con.execute("insert into raw.assets (asset_id, asset_type, node_id) values "
                "('G1', 'gpu', 'N1'), ('G2', 'gpu', 'N1'), ('G3', 'gpu', 'N2'), "
                "('R1', 'robot', null)")
    return con


def _insert(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.executemany(f"insert into raw.gpu_samples ({', '.join(COLUMNS)}) "
                    f"values ({', '.join('?' * len(COLUMNS))})", rows)


def _fine(day: date, gpu: str, node: str, n: int, file: str | None = None) -> list[tuple]:
    """n plausible samples of `gpu`, one a minute from midnight UTC of `day`."""
    t0 = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    file = file or f"gpu_telemetry/{day}/{node}/{gpu}.jsonl"
    return [(file, i + 1, node, gpu, t0 + timedelta(minutes=i), 50.0, 300.0, 45.0, 1000 + i)
            for i in range(n)]


def _missing(value):
    """None for a missing value (great-expectations reports a missing string as NaN)."""
    return None if value is None or value != value else value


def test_the_suite_reads_one_row_per_day_and_gpu(monkeypatch):
    con = _warehouse()
    for day in (D0, D1):
        for gpu, node in (("G1", "N1"), ("G2", "N1"), ("G3", "N2")):
            _insert(con, _fine(day, gpu, node, 50))
    result = suites.validate_table(con, "raw.gpu_samples", D0, D1)
    assert result.passed, result.failures
    assert result.rows == 6  # 3 GPUs x 2 days, of 300 samples
    rows = suites.window_rows(con, suites.SUITES["raw.gpu_samples"], D0, D0)
    assert sorted(zip(rows["gpu_uuid"], rows["samples"])) == [("G1", 50), ("G2", 50), ("G3", 50)]
    # a window is cut into runs of days on the summary's rows (3 a day), not the samples'
    monkeypatch.setattr(suites, "CHUNK_ROWS", 6)
    assert suites._day_chunks(con, suites.SUITES["raw.gpu_samples"], D0, D1) == [(D0, D1)]


def test_each_rule_of_the_samples_names_the_failing_day_and_gpu():
    con = _warehouse()
    g1 = _fine(D0, "G1", "N1", 10)
    g1[3] = g1[3][:6] + (2500.0,) + g1[3][7:]          # power above 2000 W
    g1[4] = g1[4][:5] + (101.0,) + g1[4][6:]           # utilisation above 100 %
    g2 = _fine(D0, "G2", "N1", 10)
    g2[5] = g2[5][:1] + (3,) + g2[5][2:]               # (source_file, line 3) twice
    g2[6] = g2[6][:7] + (-25.0,) + g2[6][8:]           # colder than -20 C
    g2[7] = g2[7][:8] + (None,) + g2[7][9:]            # no energy reading
    g3 = _fine(D0, "G3", "N2", 10)
    g3[0] = g3[0][:8] + (-1,)                          # a negative energy counter
    stranger = _fine(D0, "G9", "N1", 2)                # a GPU the registry does not know
    lost = _fine(D0, "G3", "N7", 1, file="x.jsonl")    # a node the registry does not know
    nameless = _fine(D0, None, "N1", 1, file="y.jsonl")  # no GPU id
    _insert(con, g1 + g2 + g3 + stranger + lost + nameless)

    result = suites.validate_table(con, "raw.gpu_samples", D0, D0)
    day = str(D0)
    found = {(f.expectation, f.column): (
        f.unexpected_count, tuple(map(_missing, f.sample_values)),
        [(r["day"], _missing(r["gpu_uuid"]), r["node_id"]) for r in f.rows])
        for f in result.failures}
    between, in_set = "expect_column_values_to_be_between", "expect_column_values_to_be_in_set"
    assert found == {
        (between, "power_w_max"): (1, (2500.0,), [(day, "G1", "N1")]),
        (between, "gpu_util_pct_max"): (1, (101.0,), [(day, "G1", "N1")]),
        (between, "repeated_lines"): (1, (2,), [(day, "G2", "N1")]),
        (between, "temp_c_min"): (1, (-25.0,), [(day, "G2", "N1")]),
        (between, "energy_mj_nulls"): (1, (1,), [(day, "G2", "N1")]),
        (between, "energy_mj_min"): (1, (-1.0,), [(day, "G3", "N2")]),
        (in_set, "gpu_registered"): (1, (False,), [(day, "G9", "N1")]),
        (in_set, "node_registered"): (1, (False,), [(day, "G3", "N7")]),
        ("expect_column_values_to_not_be_null", "gpu_uuid"): (1, (None,), [(day, None, "N1")]),
    }
    # G1, G2, G3 on their nodes, G9, G3 on N7, the nameless GPU
    assert result.rows == 6


def test_a_line_delivered_twice_is_found_across_days_and_chunks(monkeypatch):
    """(source_file, line) is unique over the whole window, whichever days the two samples
    are dated and however the window is cut into runs of days."""
    con = _warehouse()
    _insert(con, _fine(D0, "G1", "N1", 3, file="f.jsonl") + _fine(D1, "G1", "N1", 3))
    _insert(con, [("f.jsonl", 2, "N1", "G1", datetime(2026, 3, 2, 12, tzinfo=timezone.utc),
                   50.0, 300.0, 45.0, 5000)])
    monkeypatch.setattr(suites, "CHUNK_ROWS", 1)  # one day a chunk
    result = suites.validate_table(con, "raw.gpu_samples", D0, D1)
    [failure] = result.failures
    assert (failure.column, failure.unexpected_count) == ("repeated_lines", 2)
    assert [(r["day"], r["gpu_uuid"]) for r in failure.rows] == [(str(D0), "G1"), (str(D1), "G1")]


def test_a_day_without_samples_fails_freshness_when_the_book_has_gpus():
    con = _warehouse()
    _insert(con, _fine(D0, "G1", "N1", 5))
    result = suites.validate_table(con, "raw.gpu_samples", D1, D1)
    assert [f.describe() for f in result.failures] == [
        "expect_column_sum_to_be_between on samples: 1 row(s), e.g. [0]"]
    con.execute("delete from raw.assets where asset_type = 'gpu'")
    assert suites.validate_table(con, "raw.gpu_samples", D1, D1).passed


def test_quarantine_rows_name_the_table_the_day_and_the_gpu():
    con = _warehouse()
    rows = _fine(D0, "G2", "N1", 4)
    rows[1] = rows[1][:6] + (2100.0,) + rows[1][7:]
    _insert(con, rows)
    result = suites.validate_table(con, "raw.gpu_samples", D0, D0)
    assert quarantine_failures(con, result, "raw.gpu_samples") == 1
    [(source, file, line, field, reason, record)] = con.execute(
        "select source, file, line, field, reason, record from raw.quarantine").fetchall()
    assert (source, file, line, field) == ("quality:raw.gpu_samples", "raw.gpu_samples", None,
                                           "power_w_max")
    assert reason == "expect_column_values_to_be_between on power_w_max: 1 row(s), e.g. [2100.0]"
    assert json.loads(record) == {"day": str(D0), "gpu_uuid": "G2", "node_id": "N1",
                                  "power_w_max": 2100.0}


@pytest.mark.parametrize("column", ["gpu_util_pct", "power_w", "temp_c"])
def test_a_nan_reading_does_not_hide_an_out_of_range_one(column):
    """A NaN is skipped as missing, as a check on the rows skips it; the other readings of
    the GPU-day are still checked."""
    con = _warehouse()
    rows = _fine(D0, "G1", "N1", 3)
    at = COLUMNS.index(column)
    rows[0] = rows[0][:at] + (float("nan"),) + rows[0][at + 1:]
    rows[1] = rows[1][:at] + (5000.0,) + rows[1][at + 1:]
    _insert(con, rows)
    result = suites.validate_table(con, "raw.gpu_samples", D0, D0)
    assert [(f.column, f.sample_values) for f in result.failures] == [
        (f"{column}_max", (5000.0,))]


def _limit_as_shown(limit: str) -> str:
    con = duckdb.connect()
    con.execute("set memory_limit = ?", [limit])
    return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_a_summary_is_computed_under_its_own_memory_limit(monkeypatch):
    from aidnav.config import load_settings
    from quality.suites import SUITES, SUMMARY_MEMORY_LIMIT, Suite, _gx

    con = _warehouse()
    con.execute("create table main.days as select date '2026-03-01' as day")
    # the summary records the limit it was computed under; the expectation wants the
    # summaries' own, then the warehouse's is back
    monkeypatch.setitem(SUITES, "main.days", Suite(
        "main.days", False, "day", ("day",),
        lambda con, days: [_gx().ExpectColumnValuesToBeInSet(
            column="limit_seen", value_set=[_limit_as_shown(SUMMARY_MEMORY_LIMIT)])],
        source_sql="select day, current_setting('memory_limit') as limit_seen "
                   "from {table}{where}"))
    result = suites.validate_table(con, "main.days", D0, D0)
    assert (result.rows, result.passed) == (1, True)
    assert con.execute("select current_setting('memory_limit')").fetchone()[0] == \
        _limit_as_shown(load_settings().duckdb_memory_limit)
    assert _limit_as_shown(SUMMARY_MEMORY_LIMIT) != _limit_as_shown(
        load_settings().duckdb_memory_limit)


def test_gpu_mart_rows_of_an_unregistered_gpu_fail_by_day_and_asset():
    con = _warehouse()
    con.execute("create schema marts")
    con.execute("create table marts.fct_gpu_operation_daily (day date, asset_id varchar, "
                "coverage decimal(38,18), uptime_hours decimal(38,18), status varchar, "
                "offline_streak_days integer)")
    con.execute("insert into marts.fct_gpu_operation_daily values "
                "('2026-03-01', 'G1', 1, 24, 'operating', 0), "
                "('2026-03-01', 'R1', 1, 24, 'operating', 0), "   # a robot, not a GPU
                "('2026-03-01', 'G9', 1, 24, 'operating', 0)")    # not in the registry
    result = suites.validate_table(con, "marts.fct_gpu_operation_daily", D0, D0)
    [failure] = result.failures
    assert (failure.expectation, failure.column, failure.unexpected_count) == (
        "expect_column_values_to_be_in_set", "gpu_registered", 2)
    assert sorted(row["asset_id"] for row in failure.rows) == ["G9", "R1"]
    assert result.rows == 3
