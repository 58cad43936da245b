"""Every daily mart is written for the run's window only, on the worked example:
(a) a warehouse built by one-day runs in order holds exactly the rows of one run over the
same days; (b) running an old day after the whole window changes no row and keeps the later
days; (c) running the same day twice gives the same rows, whether the window comes as
`--vars` (the scheduler's way) or through the environment (the replay's way).

The reference is one 40-day build (01-25..03-05), itself checked against the expected files
in test_replay_worked_example.py; here whole tables are compared value by value."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from modelling.replay import MART_EXPORTS, load_inputs, run_dbt
from tests.fixture_paths import WORKED_EXAMPLE_INPUT

INCEPTION, END = date(2026, 1, 25), date(2026, 3, 5)
MARTS = list(MART_EXPORTS)
LEDGER_MARTS = ["fct_asset_valuation_daily", "fct_deal_position_daily", "fct_nav_daily",
                "fct_staker_rewards_daily", "fct_rewards_roots_daily"]


def dump(warehouse: Path, last_day: date | None = None) -> dict[str, list[tuple]]:
    """Every row of every mart (up to `last_day`), in a fixed order."""
    con = duckdb.connect(str(warehouse))  # same configuration as the in-process dbt connection
    try:
        where = "" if last_day is None else f"where day <= date '{last_day.isoformat()}'"
        return {m: con.execute(f"select * from marts.{m} {where} order by all").fetchall()
                for m in MARTS}
    finally:
        con.close()


def days_of(rows: list[tuple]) -> set[date]:
    return {r[0] for r in rows}


def assert_same(actual: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> None:
    for mart in MARTS:
        a, e = actual[mart], expected[mart]
        assert len(a) == len(e), f"{mart}: {len(a)} rows, expected {len(e)}"
        for i, (ra, re) in enumerate(zip(a, e)):
            assert ra == re, f"{mart} row {i}: {ra} != {re}"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """A warehouse with the worked example's inputs and no model built yet."""
    warehouse = tmp_path_factory.mktemp("window_loaded") / "warehouse.duckdb"
    load_inputs(warehouse, WORKED_EXAMPLE_INPUT)
    return warehouse


@pytest.fixture(scope="module")
def full(loaded, tmp_path_factory) -> tuple[Path, dict[str, list[tuple]]]:
    work = tmp_path_factory.mktemp("window_full")
    warehouse = copy_of(loaded, work)
    run_dbt(warehouse, INCEPTION, END, work)
    return warehouse, dump(warehouse)


def copy_of(src: Path, tmp_path: Path) -> Path:
    """A copy of a warehouse file; a checkpoint first moves the write-ahead log into it
    (the in-process dbt run may still hold the database open)."""
    con = duckdb.connect(str(src))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    dst = tmp_path / "warehouse.duckdb"
    shutil.copy(src, dst)
    return dst


def test_full_build_has_every_day_of_the_books(full):
    _, rows = full
    every_day = {INCEPTION + timedelta(days=i) for i in range(40)}
    for mart in ["fct_gpu_operation_daily", "fct_robot_operation_daily"] + LEDGER_MARTS:
        if mart == "fct_staker_rewards_daily":  # no staker before 01-26
            assert days_of(rows[mart]) == every_day - {INCEPTION}, mart
        else:
            assert days_of(rows[mart]) == every_day, mart


def test_one_day_runs_in_order_equal_one_run_over_the_days(loaded, full, tmp_path):
    """The daily schedule's path. The first run on the empty warehouse (02-06) builds
    inception..02-06; then one run per day 02-07..02-14, across H100 #4's offline streak
    (health 0 from 02-09, back on 02-13), the energy counter restart of 02-12 and the sAID
    transfers of 02-10."""
    _, reference = full
    warehouse = copy_of(loaded, tmp_path)
    day = date(2026, 2, 6)
    run_dbt(warehouse, day, day, tmp_path)
    first = dump(warehouse)
    assert min(days_of(first["fct_nav_daily"])) == INCEPTION
    assert max(days_of(first["fct_nav_daily"])) == day
    while day < date(2026, 2, 14):
        day += timedelta(days=1)
        run_dbt(warehouse, day, day, tmp_path)
    assert_same(dump(warehouse), dump(full[0], last_day=day))
    assert max(days_of(reference["fct_nav_daily"])) == END  # the reference is the whole window


def test_rerunning_an_old_day_keeps_every_row(full, tmp_path):
    warehouse_full, reference = full
    warehouse = copy_of(warehouse_full, tmp_path)
    run_dbt(warehouse, date(2026, 2, 10), date(2026, 2, 10), tmp_path)
    after = dump(warehouse)
    for mart in LEDGER_MARTS:  # the later days are still there
        assert max(days_of(after[mart])) == END, mart
    assert_same(after, reference)


def test_same_day_twice_by_vars_then_by_environment(full, tmp_path):
    warehouse_full, reference = full
    warehouse = copy_of(warehouse_full, tmp_path)
    day = date(2026, 3, 3)  # D-GPU-FIX closes, D-ROB-FIX allowance, share price -1.44 %
    run_dbt(warehouse, day, day, tmp_path, window_in_vars=True)
    once = dump(warehouse)
    run_dbt(warehouse, day, day, tmp_path)
    assert_same(dump(warehouse), once)
    assert_same(once, reference)


def test_a_window_bound_that_is_not_a_date_is_refused(full, tmp_path, monkeypatch):
    from dbt.cli.main import dbtRunner

    from modelling.dbt import dbt_build_args

    monkeypatch.setenv("AIDNAV_WAREHOUSE", str(copy_of(full[0], tmp_path)))
    monkeypatch.setenv("AIDNAV_END_DATE", "2026-3-5")
    args = dbt_build_args(None, None, "fct_nav_daily", target_path=str(tmp_path / "target"))
    result = dbtRunner().invoke(args + ["--log-path", str(tmp_path / "logs"), "--quiet"])
    assert not result.success
    messages = " ".join(str(getattr(r, "message", "")) for r in (result.result or []))
    assert "end_date: got '2026-3-5', expected an ISO date" in messages + str(result.exception)


def test_docs_generate_catalogs_every_mart_with_its_contract_types(full, tmp_path, monkeypatch):
    import json

    from dbt.cli.main import dbtRunner

    from modelling.dbt import DBT_PROJECT_DIR

    monkeypatch.setenv("AIDNAV_WAREHOUSE", str(copy_of(full[0], tmp_path)))
    target = tmp_path / "docs"
    result = dbtRunner().invoke([
        "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
        str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(tmp_path / "logs"),
        "--quiet"])
    assert result.success, result.exception
    assert (target / "index.html").exists()
    nodes = json.loads((target / "catalog.json").read_text())["nodes"]
    for mart in MARTS:
        assert f"model.aidnav.{mart}" in nodes, mart
    nav = nodes["model.aidnav.fct_nav_daily"]["columns"]
    assert nav["share_price"]["type"].upper() == "DECIMAL(38,18)"
    assert nav["day"]["type"].upper() == "DATE"
