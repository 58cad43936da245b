"""The daily HTML report: one self-contained page per day with its charts, and an index."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from aidnav.daily_report import bar_chart, line_chart, render_reports, Series
from tests.fixture_paths import WORKED_EXAMPLE_EXPECTED
from tests.ops.conftest import INCEPTION, END


@pytest.fixture(scope="module")
def reports(example_warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    con = duckdb.connect(str(example_warehouse))
    try:
        days = [INCEPTION + timedelta(days=i) for i in range(40)]
        return out, render_reports(con, out, days)
    finally:
        con.close()


def expected_nav(day: str) -> dict[str, str]:
    with open(WORKED_EXAMPLE_EXPECTED / "fct_nav_daily.csv", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["day"] == day)


def test_one_page_per_day_and_an_index_linking_them(reports):
    out, summary = reports
    assert len(summary["pages"]) == 40
    index = (out / "index.html").read_text()
    assert index.count("<a href='2026-") == 40
    assert summary["last"]["day"] == END
    assert summary["last"]["share_price"] == Decimal(expected_nav("2026-03-05")["share_price"])


def test_page_shows_the_days_figures_and_every_chart_inline(reports):
    out, _ = reports
    page = (out / "2026-02-20.html").read_text()
    nav = Decimal(expected_nav("2026-02-20")["nav_usd"])
    assert f"{nav:,.2f}" in page
    for title in ("sAID share price", "NAV (USD)", "Backing ratio", "Annualised yield by deal",
                  "Collateral ratio by deal", "GPU uptime by provider",
                  "GPU utilisation by provider", "Robot operating hours",
                  "GAIB rewards distributed"):
        assert title in page, title
    assert page.count("<svg") >= 10
    # nothing fetched from the network: no scripts, no external sources
    assert "<script" not in page
    assert not re.search(r"(src|href)=[\"']https?://", page)
    assert "D-GPU-RS" in page
    assert "2026-02-19.html" in page and "2026-02-21.html" in page


def test_line_chart_places_points_by_date_and_value():
    svg = line_chart("t", [Series("s", [(date(2026, 1, 1), 0.0), (date(2026, 1, 3), 10.0)])],
                     width=200, height=100)
    pts = re.search(r'points="([^"]+)"', svg).group(1).split()
    (x0, y0), (x1, y1) = [tuple(map(float, p.split(","))) for p in pts]
    assert x0 < x1 and y0 > y1  # later date right, larger value higher up
    assert bar_chart("t", [], []).count("no data") == 1


def test_bar_below_its_minimum_is_red():
    svg = bar_chart("c", ["A", "B"], [1.5, 1.1], minimums=[1.3, 1.3])
    fills = re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="([^"]+)"', svg)
    assert fills[1:] == ["#1f77b4", "#d62728"]  # the first rect is the plot frame
