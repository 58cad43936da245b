"""The report's charts, drawn by Vega-Lite (specs built with Altair) and readable offline.

Each chart is a `<div>` and a call to `vegaEmbed` with its spec inline; the three scripts
(vega, vega-lite, vega-embed) are installed from the npm registry with the project and
copied once next to the pages (`vendor/`), so a page opened from `file://` with no network
draws its charts, with tooltips and legends. Axes respect each quantity: shares of a whole
run from 0 to 100 %, bars (ratios, hours, yields) start at 0, dates are written in full,
and names are never cut.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import altair as alt

from aidnav.config import NODE_MODULES

VENDOR = "vendor"  # folder beside the pages
_SCRIPTS = (("vega/build/vega.min.js", "vega.min.js"),
            ("vega-lite/build/vega-lite.min.js", "vega-lite.min.js"),
            ("vega-embed/build/vega-embed.min.js", "vega-embed.min.js"))
WIDTH, HEIGHT = 520, 220
DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[date, float]]


class ChartScriptsMissing(RuntimeError):
    """node_modules lacks the chart scripts: `make install` (npm ci) installs them."""


def vendor_scripts(out_dir: Path) -> Path:
    """Copy the chart scripts into `out_dir/vendor/` (only those missing or changed)."""
    dest = out_dir / VENDOR
    dest.mkdir(parents=True, exist_ok=True)
    for source, name in _SCRIPTS:
        src = NODE_MODULES / source
        if not src.is_file():
            raise ChartScriptsMissing(f"report charts: {src} is missing; run `make install` "
                                      "(npm ci) to install the chart scripts")
        target = dest / name
        if target.is_file() and target.stat().st_size == src.stat().st_size:
            continue
        tmp = target.with_name(f".{name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    return dest


def script_tags() -> str:
    """The `<script>` tags a page with charts loads, relative to the page's folder."""
    return "".join(f'<script src="{VENDOR}/{name}"></script>' for _, name in _SCRIPTS)


def _embed(title: str, chart: alt.TopLevelMixin) -> str:
    spec = chart.properties(title=title).to_dict()
    ident = "chart-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    # `</` may not appear inside a script element: JSON allows writing it as `<\/`
    payload = json.dumps(spec, sort_keys=True).replace("</", "<\\/")
    return (f'<figure class="chart" id="{ident}" aria-label="{html.escape(title)}"></figure>'
            f'<script>vegaEmbed("#{ident}", {payload}, {{"actions": false, '
            f'"renderer": "svg"}});</script>')


def _empty(title: str) -> str:
    return (f'<figure class="chart empty"><figcaption>{html.escape(title)}</figcaption>'
            "<p>no data</p></figure>")


def line_chart(title: str, series: Sequence[Series], marker: date | None = None,
               reference: float | None = None, percent: bool = False, zero: bool = False,
               unit: str = "") -> str:
    """Dated series as lines, one colour per series with a legend; `marker` marks the
    report day, `reference` draws a dashed level (a minimum, or 1.0). `percent` takes
    fractions and shows 0-100 %; `zero` starts the axis at 0."""
    rows = [{"day": d.isoformat(), "value": (v * 100 if percent else v), "series": s.name}
            for s in series for d, v in sorted(s.points)]
    if not rows:
        return _empty(title)
    scale = alt.Scale(domain=[0, 100]) if percent else alt.Scale(zero=zero, nice=True)
    y_title = "%" if percent else unit
    fmt = ".1f" if percent else ",.6~g"
    base = alt.Chart(alt.Data(values=rows))
    lines = base.mark_line(point=len(rows) <= 62).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format=DATE_FORMAT, labelAngle=-30)),
        y=alt.Y("value:Q", title=y_title, scale=scale),
        color=alt.Color("series:N", title=None,
                        legend=alt.Legend(orient="bottom", labelLimit=0)
                        if len(series) > 1 else None),
        tooltip=[alt.Tooltip("series:N", title="series"),
                 alt.Tooltip("day:T", title="day", format=DATE_FORMAT),
                 alt.Tooltip("value:Q", title=y_title or "value", format=fmt)])
    layers: list[alt.Chart] = [lines]
    if reference is not None:
        layers.append(alt.Chart(alt.Data(values=[{"level": reference}]))
                      .mark_rule(strokeDash=[4, 3], color="#d62728")
                      .encode(y="level:Q", tooltip=[alt.Tooltip("level:Q", title="reference")]))
    if marker is not None:
        layers.append(alt.Chart(alt.Data(values=[{"day": marker.isoformat()}]))
                      .mark_rule(strokeDash=[2, 2], color="#999")
                      .encode(x="day:T", tooltip=[alt.Tooltip("day:T", title="report day",
                                                              format=DATE_FORMAT)]))
    return _embed(title, alt.layer(*layers).properties(width=WIDTH, height=HEIGHT))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None],
              minimums: Sequence[float | None] | None = None, percent: bool = False,
              unit: str = "", full_scale: bool = True) -> str:
    """One horizontal bar per label from 0, full names on the axis; `minimums` draws a red
    tick per bar and colours a bar under its minimum red. `percent` takes fractions and
    shows them in %, on a 0-100 axis unless `full_scale` is off (a rate that is not a share
    of a whole, such as a yield, may go past 100 or below 0)."""
    if not labels:
        return _empty(title)
    mins = list(minimums) if minimums is not None else [None] * len(labels)
    rows = []
    for label, v, m in zip(labels, values, mins):
        if v is None:
            continue
        shown = v * 100 if percent else v
        rows.append({"name": str(label), "value": shown,
                     "minimum": None if m is None else (m * 100 if percent else m),
                     "state": "below minimum" if m is not None and v < m else "ok"})
    if not rows:
        return _empty(title)
    x_title = "%" if percent else unit
    scale = (alt.Scale(domain=[0, 100]) if percent and full_scale
             else alt.Scale(zero=True, nice=True))
    fmt = ".2f" if percent else ",.4~f"
    # horizontal bars: a name reads in full on its own line, however long
    y = alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelLimit=0))
    tooltip = [alt.Tooltip("name:N", title="name"),
               alt.Tooltip("value:Q", title=x_title or "value", format=fmt)]
    base = alt.Chart(alt.Data(values=rows))
    if minimums is not None:
        tooltip.append(alt.Tooltip("minimum:Q", title="minimum", format=fmt))
        colour = alt.Color("state:N", title=None,
                           scale=alt.Scale(domain=["ok", "below minimum"],
                                           range=["#1f77b4", "#d62728"]),
                           legend=alt.Legend(orient="bottom"))
    else:
        colour = alt.value("#1f77b4")
    bars = base.mark_bar().encode(y=y, x=alt.X("value:Q", title=x_title, scale=scale),
                                  color=colour, tooltip=tooltip)
    layers: list[alt.Chart] = [bars]
    if minimums is not None:
        layers.append(base.transform_filter("datum.minimum != null")
                      .mark_tick(color="#d62728", thickness=2)
                      .encode(y=y, x="minimum:Q", tooltip=tooltip))
    height = max(60, 22 * len(rows))
    return _embed(title, alt.layer(*layers).properties(width=WIDTH - 120, height=height))
