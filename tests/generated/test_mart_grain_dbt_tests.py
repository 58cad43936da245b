"""The dbt `unique` tests on each mart's grain (models/marts/*.yml): they pass on the
marts of a generated book and fail, naming the mart, once a row of its grain is there twice."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from modelling.dbt import DBT_PROJECT_DIR
from modelling.replay import MART_EXPORTS, load_inputs, run_dbt
from tests.generated.book_generator import generate_book

pytestmark = pytest.mark.xdist_group("generated_grain")


def dbt_test_marts(warehouse: Path, work: Path) -> dict[str, str]:
    """`dbt test` of the marts: test name -> status."""
    from dbt.cli.main import dbtRunner

    saved = os.environ.get("AIDNAV_WAREHOUSE")
    os.environ["AIDNAV_WAREHOUSE"] = str(warehouse)
    try:
        result = dbtRunner().invoke([
            "test", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--select", "marts", "--target-path", str(work / "target"),
            "--log-path", str(work / "logs"), "--quiet"])
    finally:
        if saved is None:
            os.environ.pop("AIDNAV_WAREHOUSE", None)
        else:
            os.environ["AIDNAV_WAREHOUSE"] = saved
    return {r.node.name: str(r.status).lower() for r in (result.result or [])}


def grain_tests(statuses: dict[str, str], mart: str) -> dict[str, str]:
    return {name: s for name, s in statuses.items()
            if name.startswith(("unique_combination_" + mart + "_", "unique_" + mart + "_"))}


def test_grain_tests_pass_on_a_book_and_fail_on_a_repeated_row(tmp_path):
    book = generate_book(1, tmp_path / "input")
    warehouse = tmp_path / "warehouse.duckdb"
    load_inputs(warehouse, book.input_dir)
    run_dbt(warehouse, book.first_day, book.last_day, tmp_path)  # dbt build: tests included

    before = dbt_test_marts(warehouse, tmp_path)
    for mart in MART_EXPORTS:
        tests = grain_tests(before, mart)
        assert len(tests) == 1, (mart, sorted(before))
        assert set(tests.values()) == {"pass"}, (mart, tests)

    con = duckdb.connect(str(warehouse))
    try:
        for mart in MART_EXPORTS:
            con.execute(f"insert into marts.{mart} select * from marts.{mart} "
                        "order by all limit 1")
    finally:
        con.close()
    after = dbt_test_marts(warehouse, tmp_path)
    for mart in MART_EXPORTS:
        assert set(grain_tests(after, mart).values()) == {"fail"}, mart
