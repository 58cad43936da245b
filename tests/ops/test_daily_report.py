"""The daily HTML report: one page per day with its charts, and an index; pages open offline."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from publishing.daily_report import bar_chart, line_chart, render_reports, Series
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


def _specs(page: str) -> dict[str, dict]:
    """Every chart's Vega-Lite spec on the page, by title."""
    specs = {}
    for payload in re.findall(r'vegaEmbed\("#[^"]+", (\{.*?\}), \{"actions"', page):
        spec = json.loads(payload.replace("<\\/", "</"))
        specs[spec["title"]] = spec
    return specs


def _spec(chart: str) -> dict:
    (spec,) = _specs(chart).values()
    return spec


def test_page_shows_the_days_figures_and_every_chart(reports):
    out, _ = reports
    page = (out / "2026-02-20.html").read_text()
    nav = Decimal(expected_nav("2026-02-20")["nav_usd"])
    assert f"{nav:,.2f}" in page
    titles = list(_specs(page))
    for title in ("sAID share price", "NAV (USD)", "Backing ratio", "Annualised yield by deal",
                  "Collateral ratio by deal", "GPU uptime by provider",
                  "GPU utilisation by provider", "Robot operating hours",
                  "GAIB rewards distributed", "Break-even collateral price drop"):
        assert any(t.startswith(title) for t in titles), title
    assert "D-GPU-RS" in page
    assert "2026-02-19.html" in page and "2026-02-21.html" in page


def test_pages_load_nothing_from_the_network(reports):
    out, summary = reports
    for page in [out / "index.html", *summary["pages"][-3:]]:
        text = page.read_text()
        assert not re.search(r"(src|href)=[\"']https?://", text)
        scripts = re.findall(r'<script src="([^"]+)"', text)
        assert scripts == ["vendor/vega.min.js", "vendor/vega-lite.min.js",
                           "vendor/vega-embed.min.js"]
        assert all((page.parent / s).stat().st_size > 10_000 for s in scripts)


def test_axes_respect_each_quantity(reports):
    out, _ = reports
    specs = _specs((out / "2026-02-20.html").read_text())

    def axis(title: str, channel: str) -> dict:
        spec = next(v for k, v in specs.items() if k.startswith(title))
        layer = spec["layer"][0]
        return layer["encoding"][channel]

    # shares of a whole: 0-100 %
    assert axis("GPU uptime by provider", "x")["scale"] == {"domain": [0, 100]}
    assert axis("GPU fleet uptime and utilisation", "y")["scale"] == {"domain": [0, 100]}
    # bars start at 0; dates are days in full
    assert axis("Collateral ratio by deal", "x")["scale"]["zero"] is True
    assert axis("Robot operating hours", "x")["scale"]["zero"] is True
    assert axis("NAV (USD)", "x")["type"] == "temporal"
    assert axis("NAV (USD)", "x")["axis"]["format"] == "%Y-%m-%d"
    # names in full
    assert axis("Collateral ratio by deal", "y")["axis"]["labelLimit"] == 0


def test_uptime_is_shown_in_percent_of_the_day():
    # 0.75 of the day up is 75 on the 0-100 axis
    chart = bar_chart("u", ["P"], [0.75], percent=True)
    spec = _spec(chart)
    values = spec.get("data", {}).get("values") or spec["layer"][0]["data"]["values"]
    assert values == [{"name": "P", "value": 75.0, "minimum": None, "state": "ok"}]
    assert bar_chart("t", [], []).count("no data") == 1


def test_bar_below_its_minimum_is_red():
    chart = bar_chart("c", ["A", "B"], [1.5, 1.1], minimums=[1.3, 1.3])
    spec = _spec(chart)
    values = spec.get("data", {}).get("values") or spec["layer"][0]["data"]["values"]
    assert [(v["name"], v["state"]) for v in values] == [("A", "ok"), ("B", "below minimum")]
    colour = spec["layer"][0]["encoding"]["color"]["scale"]
    assert dict(zip(colour["domain"], colour["range"]))["below minimum"] == "#d62728"


def test_line_chart_keeps_each_series_with_its_dates():
    chart = line_chart("t", [Series("up", [(date(2026, 1, 3), 2.0), (date(2026, 1, 1), 1.0)]),
                             Series("down", [(date(2026, 1, 1), 5.0)])])
    spec = _spec(chart)
    values = spec["layer"][0].get("data", spec.get("data", {})).get("values")
    assert values == [{"day": "2026-01-01", "value": 1.0, "series": "up"},
                      {"day": "2026-01-03", "value": 2.0, "series": "up"},
                      {"day": "2026-01-01", "value": 5.0, "series": "down"}]


def test_stress_table_marks_gpu_collateral_down_from_the_reference_positions(reports):
    # the independent reference's position of D-GPU-RS on the last day, marked down by hand
    with open(WORKED_EXAMPLE_EXPECTED / "fct_deal_position_daily.csv", newline="") as fh:
        pos = next(r for r in csv.DictReader(fh)
                   if r["day"] == "2026-03-05" and r["deal_id"] == "D-GPU-RS")
    collateral, exposure = Decimal(pos["collateral_value"]), Decimal(pos["exposure"])
    shocked = [f"{collateral * (1 - Decimal(s)) / exposure:.3f}" for s in ("0.1", "0.3", "0.5")]
    out, _ = reports
    page = (out / "2026-03-05.html").read_text()
    row = re.search(r"<tr><td>D-GPU-RS</td>(.*?)</tr>", page.split("Stress: GPU prices down")[1])
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    assert cells[0] == f"{collateral / exposure:.3f}"
    assert cells[1:4] == shocked
    assert cells[5] == f"{(1 - exposure / collateral) * 100:.1f} %"
