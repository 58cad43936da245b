"""The daily NAV report: one self-contained HTML page per day plus an index.

`<out_dir>/<day>.html` shows the day's figures and charts drawn as inline SVG (no
JavaScript, no network): share price and NAV over time, backing ratio, yield by deal,
collateral ratio of each deal against its minimum, GPU fleet uptime and utilisation by
provider, robot operating hours by provider, rewards distributed per day, and the day's
publications with their transaction hashes. `<out_dir>/index.html` lists every day.
Everything is read from the marts (and the registry tables for names and minimums).
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
WEI = Decimal(10) ** 18


# ------------------------------------------------------------------------ SVG charts
@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[date, float]]


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}B"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3f}".rstrip("0").rstrip(".")
    return f"{v:.4f}".rstrip("0").rstrip(".") or "0"


def _bounds(values: list[float], floor: float | None = None) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if floor is not None:
        lo = min(lo, floor)
    if hi == lo:
        pad = abs(hi) * 0.01 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def line_chart(title: str, series: Sequence[Series], width: int = 560, height: int = 220,
               marker: date | None = None, reference: float | None = None) -> str:
    """A line chart of dated series; `marker` draws the report day, `reference` a dashed
    horizontal line (a minimum or 1.0)."""
    series = [s for s in series if s.points]
    if not series:
        return _empty(title, width, height)
    left, right, top, bottom = 62, 12, 26, 30
    xs = sorted({p[0] for s in series for p in s.points})
    ys = [p[1] for s in series for p in s.points] + ([reference] if reference is not None else [])
    y0, y1 = _bounds(ys)
    x0, span = xs[0], max((xs[-1] - xs[0]).days, 1)
    pw, ph = width - left - right, height - top - bottom

    def px(d: date) -> float:
        return left + pw * (d - x0).days / span

    def py(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    parts = [_frame(title, width, height, left, top, pw, ph)]
    for i in range(5):
        v = y0 + (y1 - y0) * i / 4
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                     'stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{py(v) + 4:.1f}" text-anchor="end" '
                     f'font-size="10">{_fmt(v)}</text>')
    for d in (xs[0], xs[len(xs) // 2], xs[-1]):
        parts.append(f'<text x="{px(d):.1f}" y="{height - 10}" text-anchor="middle" '
                     f'font-size="10">{d.isoformat()}</text>')
    if reference is not None:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(reference):.1f}" '
                     f'y2="{py(reference):.1f}" stroke="#d62728" stroke-dasharray="4 3"/>')
    if marker is not None and x0 <= marker <= xs[-1]:
        parts.append(f'<line x1="{px(marker):.1f}" x2="{px(marker):.1f}" y1="{top}" '
                     f'y2="{top + ph}" stroke="#999" stroke-dasharray="2 2"/>')
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{px(d):.1f},{py(v):.1f}" for d, v in sorted(s.points))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
                     f'points="{pts}"><title>{html.escape(s.name)}</title></polyline>')
        if len(series) > 1:
            parts.append(f'<text x="{left + 6 + (i % 4) * 120}" y="{top + 12 + (i // 4) * 12}" '
                         f'font-size="10" fill="{color}">{html.escape(s.name[:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None],
              width: int = 560, height: int = 220, minimums: Sequence[float | None] | None = None,
              percent: bool = False) -> str:
    """Vertical bars; `minimums` draws a red tick per bar (a bar under it is red too)."""
    if not labels:
        return _empty(title, width, height)
    left, right, top, bottom = 62, 12, 26, 44
    pw, ph = width - left - right, height - top - bottom
    vals = [v if v is not None else 0.0 for v in values]
    mins = list(minimums) if minimums is not None else [None] * len(vals)
    y0, y1 = _bounds(vals + [m for m in mins if m is not None], floor=0.0)
    y0 = min(y0, 0.0)

    def py(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    parts = [_frame(title, width, height, left, top, pw, ph)]
    for i in range(5):
        v = y0 + (y1 - y0) * i / 4
        label = f"{v * 100:.1f}%" if percent else _fmt(v)
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                     f'stroke="#eee"/><text x="{left - 4}" y="{py(v) + 4:.1f}" '
                     f'text-anchor="end" font-size="10">{label}</text>')
    slot = pw / len(vals)
    bw = max(slot * 0.7, 1.0)
    for i, (label, v, m) in enumerate(zip(labels, vals, mins)):
        x = left + i * slot + (slot - bw) / 2
        below = m is not None and values[i] is not None and v < m
        color = "#d62728" if below else PALETTE[0]
        ytop, ybase = py(max(v, 0.0)), py(min(v, 0.0))
        shown = f"{v * 100:.2f}%" if percent else _fmt(v)
        parts.append(f'<rect x="{x:.1f}" y="{ytop:.1f}" width="{bw:.1f}" '
                     f'height="{max(ybase - ytop, 0.5):.1f}" fill="{color}">'
                     f'<title>{html.escape(label)}: {shown}</title></rect>')
        if m is not None:
            parts.append(f'<line x1="{x - 2:.1f}" x2="{x + bw + 2:.1f}" y1="{py(m):.1f}" '
                         f'y2="{py(m):.1f}" stroke="#d62728" stroke-width="2"/>')
        if len(vals) <= 24:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph + 12}" font-size="9" '
                         f'text-anchor="end" transform="rotate(-30 {x + bw / 2:.1f} '
                         f'{top + ph + 12})">{html.escape(label[:14])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _frame(title: str, width: int, height: int, left: int, top: int, pw: int, ph: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}" '
            'font-family="sans-serif">'
            f'<text x="{width / 2}" y="15" text-anchor="middle" font-size="12" '
            f'font-weight="bold">{html.escape(title)}</text>'
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>')


def _empty(title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif"><text x="{width / 2}" y="15" text-anchor="middle" '
            f'font-size="12" font-weight="bold">{html.escape(title)}</text>'
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="11" '
            'fill="#999">no data</text></svg>')


# ------------------------------------------------------------------------ data
def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables "
                       "where table_schema = ? and table_name = ?", [schema, table]).fetchone()[0] > 0


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def day_data(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Everything one page shows, history up to `day` included."""
    nav_hist = con.execute(
        "select day, nav_usd, share_price, backing_ratio from marts.fct_nav_daily "
        "where day <= ? order by day", [day]).fetchall()
    today = con.execute(
        "select * from marts.fct_nav_daily where day = ?", [day]).fetchdf()
    deals = con.execute(
        """
        select p.deal_id, coalesce(pr.name, d.provider_id) as provider, p.structure,
               p.principal, p.income, p.collateral_ratio, d.min_collateral_ratio,
               p.carrying_value, p.dpd, p.covenant_breach
        from marts.fct_deal_position_daily p
        left join raw.deals d using (deal_id)
        left join raw.providers pr on pr.provider_id = d.provider_id
        where p.day = ? order by p.deal_id
        """, [day]).fetchall()
    gpu = con.execute(
        """
        select coalesce(pr.name, d.provider_id, '?') as provider, count(*) as gpus,
               avg(g.uptime_hours) / 24 as uptime, avg(g.avg_util_pct) / 100 as util,
               avg(g.coverage) as coverage
        from marts.fct_gpu_operation_daily g
        left join raw.assets a on a.asset_id = g.asset_id
        left join raw.deals d on d.deal_id = a.deal_id
        left join raw.providers pr on pr.provider_id = d.provider_id
        where g.day = ? group by all order by 1
        """, [day]).fetchall()
    fleet_hist = con.execute(
        "select day, avg(uptime_hours) / 24, avg(avg_util_pct) / 100 "
        "from marts.fct_gpu_operation_daily where day <= ? group by day order by day",
        [day]).fetchall()
    robots = con.execute(
        """
        select coalesce(pr.name, d.provider_id, '?'), count(*), avg(r.operating_hours)
        from marts.fct_robot_operation_daily r
        left join raw.assets a on a.asset_id = r.asset_id
        left join raw.deals d on d.deal_id = a.deal_id
        left join raw.providers pr on pr.provider_id = d.provider_id
        where r.day = ? group by all order by 1
        """, [day]).fetchall()
    rewards = con.execute(
        "select day, sum(reward_wei), count(*) filter (where reward_wei > 0) "
        "from marts.fct_staker_rewards_daily where day <= ? group by day order by day",
        [day]).fetchall()
    pubs: list[tuple] = []
    if _table_exists(con, "marts", "publications"):
        pubs = con.execute(
            "select kind, chain_id, status, tx_hash, block_number, report_hash "
            "from marts.publications where day = ? order by kind, chain_id", [day]).fetchall()
    restated: list[tuple] = []
    if _table_exists(con, "marts", "restatements"):
        restated = con.execute(
            "select figure, restatement, coalesce(cast(posted_value as varchar), posted_text), "
            "coalesce(cast(restated_value as varchar), restated_text), difference, "
            "posted_report_hash, restated_report_hash, restated_report, cause, detected_at "
            "from marts.restatements where day = ? order by restatement, kind, figure",
            [day]).fetchall()
    return {"day": day, "nav_hist": nav_hist, "today": today, "deals": deals, "gpu": gpu,
            "fleet_hist": fleet_hist, "robots": robots, "rewards": rewards,
            "publications": pubs, "restatements": restated}


# ------------------------------------------------------------------------ pages
CSS = """body{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}
h1{margin-bottom:4px}.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:140px}
.kpi b{display:block;font-size:18px}.grid{display:flex;flex-wrap:wrap;gap:12px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;
padding:3px 6px;text-align:right}th{background:#f5f5f5}td:first-child{text-align:left}
.bad{color:#d62728;font-weight:bold}code{font-size:11px}"""


def _kpi(label: str, value: str) -> str:
    return f'<div class="kpi">{html.escape(label)}<b>{html.escape(value)}</b></div>'


def _money(v: Any) -> str:
    return "-" if v is None else f"{Decimal(v):,.2f}"


def render_day(data: dict[str, Any], prev_day: date | None, next_day: date | None) -> str:
    """The HTML text of one day's report."""
    day: date = data["day"]
    today = data["today"]
    if today.empty:
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{day}</title>"
                f"<style>{CSS}</style></head><body><h1>AID NAV report {day}</h1>"
                "<p>No NAV computed for this day.</p><p><a href='index.html'>all days</a></p>"
                "</body></html>")
    row = today.iloc[0]
    nav_hist = data["nav_hist"]
    kpis = [
        _kpi("NAV (USD)", _money(row["nav_usd"])),
        _kpi("sAID share price", f"{Decimal(row['share_price']):.6f}"),
        _kpi("Backing ratio", "-" if row["backing_ratio"] is None
             else f"{Decimal(row['backing_ratio']):.4f}"),
        _kpi("Gross assets", _money(row["gross_assets"])),
        _kpi("Fees payable", _money(row["fees_payable"])),
        _kpi("AID supply", _money(row["aid_supply"])),
        _kpi("APY 7d", "-" if row["apy_7d"] is None else f"{float(row['apy_7d']) * 100:.2f}%"),
    ]
    deals = data["deals"]
    deal_yield = [(_f(inc) or 0.0) * 365 / float(pr) if pr else None
                  for (_, _, _, pr, inc, *_rest) in deals]
    charts = [
        line_chart("sAID share price", [Series("share price",
                   [(d, float(p)) for d, _, p, _ in nav_hist])], marker=day),
        line_chart("NAV (USD)", [Series("NAV", [(d, float(n)) for d, n, _, _ in nav_hist])],
                   marker=day),
        line_chart("Backing ratio (AID backed / AID supply)",
                   [Series("backing", [(d, float(b)) for d, _, _, b in nav_hist
                                       if b is not None])], marker=day, reference=1.0),
        bar_chart("Annualised yield by deal (income / principal x 365)",
                  [d[0] for d in deals], deal_yield, percent=True),
        bar_chart("Collateral ratio by deal (red tick: minimum)", [d[0] for d in deals],
                  [_f(d[5]) for d in deals], minimums=[_f(d[6]) for d in deals]),
        bar_chart("GPU uptime by provider", [g[0] for g in data["gpu"]],
                  [_f(g[2]) for g in data["gpu"]], percent=True),
        bar_chart("GPU utilisation by provider", [g[0] for g in data["gpu"]],
                  [_f(g[3]) for g in data["gpu"]], percent=True),
        line_chart("GPU fleet uptime and utilisation", [
            Series("uptime", [(d, float(u)) for d, u, _ in data["fleet_hist"] if u is not None]),
            Series("utilisation", [(d, float(x)) for d, _, x in data["fleet_hist"]
                                   if x is not None])], marker=day),
        bar_chart("Robot operating hours by provider (mean per robot)",
                  [r[0] for r in data["robots"]], [_f(r[2]) for r in data["robots"]]),
        line_chart("GAIB rewards distributed per day", [Series("rewards", [
            (d, float(Decimal(w) / WEI)) for d, w, _ in data["rewards"] if w is not None])],
                   marker=day),
    ]
    deal_rows = "".join(
        f"<tr><td>{html.escape(d[0])}</td><td>{html.escape(str(d[1]))}</td>"
        f"<td>{html.escape(str(d[2]))}</td><td>{_money(d[3])}</td><td>{_money(d[4])}</td>"
        f"<td>{'-' if y is None else f'{y * 100:.2f}%'}</td>"
        f"<td class=\"{'bad' if d[9] else ''}\">{'-' if d[5] is None else f'{float(d[5]):.3f}'}"
        f"</td><td>{'-' if d[6] is None else f'{float(d[6]):.2f}'}</td>"
        f"<td>{_money(d[7])}</td><td>{d[8] if d[8] is not None else '-'}</td></tr>"
        for d, y in zip(deals, deal_yield))
    gpu_rows = "".join(
        f"<tr><td>{html.escape(str(g[0]))}</td><td>{g[1]}</td><td>{(_f(g[2]) or 0) * 100:.1f}%</td>"
        f"<td>{(_f(g[3]) or 0) * 100:.1f}%</td><td>{(_f(g[4]) or 0) * 100:.1f}%</td></tr>"
        for g in data["gpu"])
    pub_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{c}</td><td>{html.escape(str(s))}</td>"
        f"<td><code>{html.escape(t or '-')}</code></td><td>{b if b is not None else '-'}</td>"
        f"<td><code>{html.escape(h or '-')}</code></td></tr>"
        for k, c, s, t, b, h in data["publications"]) or "<tr><td colspan=6>none recorded</td></tr>"
    restatements = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{n}</td><td>{html.escape(str(p))}</td>"
        f"<td>{html.escape(str(r))}</td><td>{'-' if d is None else html.escape(str(d))}</td>"
        f"<td><code>{html.escape(ph or '-')}</code></td>"
        f"<td><code>{html.escape(rh or '-')}</code><br>{html.escape(rp or '')}</td>"
        f"<td>{html.escape(cause or '')}</td>"
        f"<td>{at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC</td></tr>"
        for f, n, p, r, d, ph, rh, rp, cause, at in data["restatements"])
    rewards_today = next((r for r in data["rewards"] if r[0] == day), None)
    nav_links = " | ".join(
        x for x in (f"<a href='{prev_day}.html'>&larr; {prev_day}</a>" if prev_day else "",
                    "<a href='index.html'>all days</a>",
                    f"<a href='{next_day}.html'>{next_day} &rarr;</a>" if next_day else "") if x)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>AID NAV report {day}</title>
<style>{CSS}</style></head><body>
<p>{nav_links}</p>
<h1>AID NAV report {day}</h1>
<p>Figures from the warehouse marts for the UTC day {day}; history from inception.</p>
<div class="kpis">{''.join(kpis)}</div>
<h2>Charts</h2><div class="grid">{''.join(charts)}</div>
<h2>Deals</h2>
<table><tr><th>deal</th><th>provider</th><th>structure</th><th>principal</th><th>income</th>
<th>annualised yield</th><th>collateral ratio</th><th>minimum</th><th>carrying value</th>
<th>dpd</th></tr>{deal_rows}</table>
<h2>GPU fleet by provider</h2>
<table><tr><th>provider</th><th>GPUs</th><th>uptime</th><th>utilisation</th><th>coverage</th>
</tr>{gpu_rows}</table>
<h2>Rewards</h2><p>{'-' if rewards_today is None else
 f"{Decimal(rewards_today[1]) / WEI:,.6f} GAIB to {rewards_today[2]} stakers"}</p>
<h2>Publications</h2>
<table><tr><th>kind</th><th>chain</th><th>status</th><th>tx hash</th><th>block</th>
<th>report sha256</th></tr>{pub_rows}</table>
{f'<h2>Restatements (not posted)</h2><p>Recomputed figures that differ from the posted report; the chain keeps the posted ones.</p><table><tr><th>figure</th><th>restatement</th><th>posted</th><th>restated</th><th>difference</th><th>posted report sha256</th><th>restated report</th><th>cause</th><th>detected</th></tr>{restatements}</table>' if restatements else ''}
</body></html>
"""


def render_index(rows: Sequence[tuple]) -> str:
    """The index page: one line per computed day, newest first."""
    body = "".join(
        f"<tr><td><a href='{d}.html'>{d}</a></td><td>{_money(n)}</td>"
        f"<td>{Decimal(p):.6f}</td><td>{'-' if b is None else f'{Decimal(b):.4f}'}</td></tr>"
        for d, n, p, b in sorted(rows, reverse=True))
    chart = line_chart("sAID share price", [Series("share price",
                       [(d, float(p)) for d, _, p, _ in rows])], width=760)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>AID NAV reports</title>"
            f"<style>{CSS}</style></head><body><h1>AID NAV reports</h1>{chart}"
            "<table><tr><th>day</th><th>NAV (USD)</th><th>share price</th><th>backing</th></tr>"
            f"{body}</table></body></html>\n")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_reports(con: duckdb.DuckDBPyConnection, out_dir: Path,
                   days: Iterable[date]) -> dict[str, Any]:
    """Write `<out_dir>/<day>.html` for each day and refresh `index.html`.

    Returns {"pages": [paths], "index": path, "last": {"path", "day", "nav_usd",
    "share_price", "backing_ratio", "gpu_coverage"}} (figures of the last day)."""
    out_dir = Path(out_dir)
    days = sorted(set(days))
    if not days:
        raise ValueError("render_reports: no day given")
    all_days = [r[0] for r in con.execute(
        "select day from marts.fct_nav_daily order by day").fetchall()]
    pages = []
    for day in days:
        later = [d for d in all_days if d > day]
        earlier = [d for d in all_days if d < day]
        text = render_day(day_data(con, day), earlier[-1] if earlier else None,
                          later[0] if later else None)
        path = out_dir / f"{day.isoformat()}.html"
        _write_atomic(path, text)
        pages.append(path)
    index_rows = con.execute("select day, nav_usd, share_price, backing_ratio "
                             "from marts.fct_nav_daily order by day").fetchall()
    index = out_dir / "index.html"
    _write_atomic(index, render_index(index_rows))
    last_day = days[-1]
    nav = con.execute("select nav_usd, share_price, backing_ratio from marts.fct_nav_daily "
                      "where day = ?", [last_day]).fetchone()
    cov = con.execute("select avg(coverage) from marts.fct_gpu_operation_daily where day = ?",
                      [last_day]).fetchone()[0]
    last = {"path": pages[-1], "day": last_day, "nav_usd": nav[0] if nav else None,
            "share_price": nav[1] if nav else None, "backing_ratio": nav[2] if nav else None,
            "gpu_coverage": cov}
    return {"pages": pages, "index": index, "last": last}
