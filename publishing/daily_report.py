"""The daily NAV report: one self-contained HTML page per day plus an index.

`<out_dir>/<day>.html` shows the day's figures and charts (`publishing/charts.py`: Vega-Lite,
its scripts copied to `<out_dir>/vendor/`, so pages open offline): share price and NAV over
time, backing ratio, yield by deal, collateral ratio of each deal against its minimum, GPU
fleet uptime and utilisation by provider, robot operating hours by provider, rewards
distributed per day, the book under GPU price shocks (`fct_deal_stress_daily`), and the
day's publications with their transaction hashes. `<out_dir>/index.html` lists every day.
Everything is read from the marts (and the registry tables for names and minimums).
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from datetime import date, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from ledger.exact import WEI
from publishing.charts import Series, bar_chart, line_chart, script_tags, vendor_scripts
from quality.flags import unsigned_robot_deliveries


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables "
                       "where table_schema = ? and table_name = ?", [schema, table]).fetchone()[0] > 0


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _by_provider(con: duckdb.DuckDBPyConnection, mart: str, day: date,
                 measures: str) -> list[tuple]:
    """The assets of an operation mart on `day` per provider (its name, else its id, else
    `?`): the provider, how many assets, then `measures` (aggregates over the mart `m`)."""
    return con.execute(f"""
        select coalesce(pr.name, d.provider_id, '?'), count(*), {measures}
        from marts.{mart} m
        left join raw.assets a on a.asset_id = m.asset_id
        left join raw.deals d on d.deal_id = a.deal_id
        left join raw.providers pr on pr.provider_id = d.provider_id
        where m.day = ? group by all order by 1""", [day]).fetchall()


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
    # per provider: GPUs, uptime and utilisation (fractions of the day), coverage
    gpu = _by_provider(con, "fct_gpu_operation_daily", day,
                       "avg(m.uptime_hours) / 24, avg(m.avg_util_pct) / 100, avg(m.coverage)")
    fleet_hist = con.execute(
        "select day, avg(uptime_hours) / 24, avg(avg_util_pct) / 100 "
        "from marts.fct_gpu_operation_daily where day <= ? group by day order by day",
        [day]).fetchall()
    robots = _by_provider(con, "fct_robot_operation_daily", day, "avg(m.operating_hours)")
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
    stress: list[tuple] = []
    if _table_exists(con, "marts", "fct_deal_stress_daily"):
        stress = con.execute(
            "select deal_id, shock_pct, collateral_ratio, stressed_collateral_ratio, "
            "min_collateral_ratio, stressed_covenant_breach, break_even_haircut, "
            "book_stressed_nav_usd, book_stressed_backing_ratio "
            "from marts.fct_deal_stress_daily where day = ? order by deal_id, shock_pct",
            [day]).fetchall()
    unsigned = unsigned_robot_deliveries(con, day, day)
    return {"day": day, "nav_hist": nav_hist, "today": today, "deals": deals, "gpu": gpu,
            "fleet_hist": fleet_hist, "robots": robots, "rewards": rewards,
            "publications": pubs, "restatements": restated, "stress": stress,
            "unsigned_robots": unsigned}


# ------------------------------------------------------------------------ pages
CSS = """body{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}
h1{margin-bottom:4px}.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:140px}
.kpi b{display:block;font-size:18px}.grid{display:flex;flex-wrap:wrap;gap:12px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;
padding:3px 6px;text-align:right}th{background:#f5f5f5}td:first-child{text-align:left}
.bad{color:#d62728;font-weight:bold}code{font-size:11px}
figure.chart{margin:0 8px 16px 0}figure.empty{width:520px;color:#999}"""


def _kpi(label: str, value: str) -> str:
    return f'<div class="kpi">{html.escape(label)}<b>{html.escape(value)}</b></div>'


def _money(v: Any) -> str:
    return "-" if v is None else f"{Decimal(v):,.2f}"


def _ratio(v: Any, places: int = 3) -> str:
    return "-" if v is None else f"{Decimal(v):.{places}f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{Decimal(v) * 100:.1f} %"


def _group(rows: Sequence[tuple]) -> list[tuple[str, list[tuple]]]:
    """Stress rows (ordered by deal, shock) grouped by deal."""
    out: list[tuple[str, list[tuple]]] = []
    for r in rows:
        if not out or out[-1][0] != r[0]:
            out.append((r[0], []))
        out[-1][1].append(r)
    return out


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
    stress = data["stress"]
    stress_deals = [r for r in stress if r[1] == min((x[1] for x in stress), default=None)]
    deal_yield = [(_f(inc) or 0.0) * 365 / float(pr) if pr else None
                  for (_, _, _, pr, inc, *_rest) in deals]
    charts = [
        line_chart("sAID share price", [Series("share price",
                   [(d, float(p)) for d, _, p, _ in nav_hist])], marker=day),
        line_chart("NAV (USD)", [Series("NAV", [(d, float(n)) for d, n, _, _ in nav_hist])],
                   marker=day),
        line_chart("Backing ratio (AID backed / AID supply; dashed: 1.0)",
                   [Series("backing", [(d, float(b)) for d, _, _, b in nav_hist
                                       if b is not None])], marker=day, reference=1.0),
        bar_chart("Annualised yield by deal (income / principal x 365)",
                  [d[0] for d in deals], deal_yield, percent=True, full_scale=False),
        bar_chart("Collateral ratio by deal (red tick: minimum)", [d[0] for d in deals],
                  [_f(d[5]) for d in deals], minimums=[_f(d[6]) for d in deals]),
        bar_chart("GPU uptime by provider", [g[0] for g in data["gpu"]],
                  [_f(g[2]) for g in data["gpu"]], percent=True),
        bar_chart("GPU utilisation by provider", [g[0] for g in data["gpu"]],
                  [_f(g[3]) for g in data["gpu"]], percent=True),
        line_chart("GPU fleet uptime and utilisation", [
            Series("uptime", [(d, float(u)) for d, u, _ in data["fleet_hist"] if u is not None]),
            Series("utilisation", [(d, float(x)) for d, _, x in data["fleet_hist"]
                                   if x is not None])], marker=day, percent=True),
        bar_chart("Robot operating hours by provider (mean per robot)",
                  [r[0] for r in data["robots"]], [_f(r[2]) for r in data["robots"]],
                  unit="hours"),
        line_chart("GAIB rewards distributed per day", [Series("rewards", [
            (d, float(Decimal(w) / WEI)) for d, w, _ in data["rewards"] if w is not None])],
                   marker=day, zero=True, unit="GAIB"),
        bar_chart("Break-even collateral price drop by deal (beyond it the collateral no "
                  "longer covers the exposure)", [r[0] for r in stress_deals],
                  [_f(r[6]) for r in stress_deals], percent=True),
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
    shocks = sorted({r[1] for r in stress})
    stress_rows = "".join(
        f"<tr><td>{html.escape(deal)}</td><td>{_ratio(rows[0][2])}</td>"
        + "".join(f"<td class=\"{'bad' if r[5] else ''}\">{_ratio(r[3])}</td>" for r in rows)
        + f"<td>{_ratio(rows[0][4], 2)}</td><td>{_pct(rows[0][6])}</td></tr>"
        for deal, rows in _group(stress))
    book_rows = (
        f"<tr><td>today</td><td>{_money(row['nav_usd'])}</td>"
        f"<td>{_ratio(row['backing_ratio'])}</td></tr>") + "".join(
        f"<tr><td>-{Decimal(s) * 100:.0f} %</td><td>{_money(r[7])}</td><td>{_ratio(r[8])}</td>"
        "</tr>" for s in shocks for r in [next(x for x in stress if x[1] == s)])
    shock_heads = "".join(f"<th>at -{Decimal(s) * 100:.0f} %</th>" for s in shocks)
    rewards_today = next((r for r in data["rewards"] if r[0] == day), None)
    unsigned = ", ".join(
        f"{html.escape(u['fleet_id'])} ({u['records']} records in {u['files']} "
        f"file{'' if u['files'] == 1 else 's'})" for u in data.get("unsigned_robots", ()))
    nav_links = " | ".join(
        x for x in (f"<a href='{prev_day}.html'>&larr; {prev_day}</a>" if prev_day else "",
                    "<a href='index.html'>all days</a>",
                    f"<a href='{next_day}.html'>{next_day} &rarr;</a>" if next_day else "") if x)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>AID NAV report {day}</title>
<style>{CSS}</style>{script_tags()}</head><body>
<p>{nav_links}</p>
<h1>AID NAV report {day}</h1>
<p>Figures from the warehouse marts for the UTC day {day}; history from inception.</p>
<div class="kpis">{''.join(kpis)}</div>
<h2>Charts</h2><div class="grid">{''.join(charts)}</div>
<h2>Deals</h2>
<table><tr><th>deal</th><th>provider</th><th>structure</th><th>principal</th><th>income</th>
<th>annualised yield</th><th>collateral ratio</th><th>minimum</th><th>carrying value</th>
<th>dpd</th></tr>{deal_rows}</table>
<h2>Stress: GPU prices down</h2>
<p>Each deal's collateral ratio with its GPUs marked down (a robot deal's collateral is not a
GPU); red: under its minimum. Break-even: the price drop at which the collateral no longer
covers the exposure. The book's NAV and backing ratio once each deal's allowance follows the
markdown (fees accrued unchanged).</p>
{f'<table><tr><th>deal</th><th>collateral ratio</th>{shock_heads}<th>minimum</th><th>break-even drop</th></tr>{stress_rows}</table><table><tr><th>GPU prices</th><th>NAV (USD)</th><th>backing ratio</th></tr>{book_rows}</table>' if stress else '<p>No stress figures for this day.</p>'}
<h2>GPU fleet by provider</h2>
<table><tr><th>provider</th><th>GPUs</th><th>uptime</th><th>utilisation</th><th>coverage</th>
</tr>{gpu_rows}</table>
{f'<h2>Unsigned robot deliveries</h2><p>Fleets with no registered key (node_address): their files were accepted without a signature. {unsigned}</p>' if unsigned else ''}
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
                       [(d, float(p)) for d, _, p, _ in rows])])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>AID NAV reports</title>"
            f"<style>{CSS}</style>{script_tags()}</head><body><h1>AID NAV reports</h1>{chart}"
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
    vendor_scripts(out_dir)
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
