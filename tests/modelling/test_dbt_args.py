"""The dbt CLI arguments of a window, built without running dbt."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from modelling.dbt import DBT_PROJECT_DIR, dbt_build_args
from modelling.replay import format_cell


def test_window_vars_and_project():
    args = dbt_build_args(date(2026, 2, 10), date(2026, 3, 5))
    assert args[0] == "build"
    assert args[args.index("--project-dir") + 1] == str(DBT_PROJECT_DIR)
    assert args[args.index("--profiles-dir") + 1] == str(DBT_PROJECT_DIR)
    assert json.loads(args[args.index("--vars") + 1]) == {
        "start_date": "2026-02-10", "end_date": "2026-03-05"}
    assert "--select" not in args


def test_select_and_defaults():
    args = dbt_build_args(None, None, select="fct_nav_daily+")
    assert "--vars" not in args
    assert args[args.index("--select") + 1] == "fct_nav_daily+"


def test_csv_cells_are_exact_text():
    assert format_cell(Decimal("20.000000000000000000")) == "20"
    assert format_cell(Decimal("-0.112349216223409820")) == "-0.11234921622340982"
    assert format_cell(Decimal("0E-18")) == "0"
    assert format_cell(None) == ""
    assert format_cell(True) == "true" and format_cell(False) == "false"
    assert format_cell(date(2026, 3, 5)) == "2026-03-05"
    assert format_cell(Decimal("14705882352941176470588")) == "14705882352941176470588"
