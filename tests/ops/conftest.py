"""A warehouse built from the worked example (inputs loaded, 40 days of marts), shared by
the ops tests of one module; each test copies it when it writes."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.fixture_paths import WORKED_EXAMPLE_INPUT

INCEPTION, END = date(2026, 1, 25), date(2026, 3, 5)


@pytest.fixture(scope="session")
def example_loaded(tmp_path_factory) -> Path:
    """Inputs loaded into raw, no model built yet."""
    from modelling.replay import load_inputs

    warehouse = tmp_path_factory.mktemp("ops_loaded") / "warehouse.duckdb"
    load_inputs(warehouse, WORKED_EXAMPLE_INPUT)
    return warehouse


@pytest.fixture(scope="session")
def example_warehouse(example_loaded, tmp_path_factory) -> Path:
    """The worked example's 40 days of marts (one dbt run)."""
    from modelling.replay import run_dbt

    work = tmp_path_factory.mktemp("ops_built")
    warehouse = work / "warehouse.duckdb"
    shutil.copy(example_loaded, warehouse)
    run_dbt(warehouse, INCEPTION, END, work)
    checkpoint(warehouse)
    return warehouse


def checkpoint(warehouse: Path) -> None:
    """Fold the write-ahead log into the file so that a plain file copy is complete
    (in-process dbt keeps its DuckDB instance open)."""
    import duckdb

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
