"""Where suite failures go: the quarantine (raw data) and a one-page HTML summary.

The quality checks of a run write great-expectations Data Docs instead
(`quality.gx_runner.data_docs`); the summary page stays for a quick, self-contained view.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from quality.gx_runner import SuiteResult


def quarantine_failures(con: duckdb.DuckDBPyConnection, result: SuiteResult, table: str) -> int:
    """One raw.quarantine row per failing row key (source 'quality:<table>'); re-runs
    replace their own rows, so nothing is counted twice."""
    source = f"quality:{table}"
    rows = []
    for failure in result.failures:
        reason = failure.describe()
        for key in failure.rows or ({},):
            rows.append((
                source, str(key.get("source_file", table)),
                int(key["line"]) if isinstance(key.get("line"), int) else None,
                failure.column or "", reason, json.dumps(key, default=str, sort_keys=True),
            ))
    con.execute("delete from raw.quarantine where source = ? and reason in "
                "(select unnest(?::varchar[]))", [source, sorted({r[4] for r in rows})])
    if rows:
        con.executemany(
            "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, now())", rows)
    return len(rows)


def write_html_summary(path: Path, title: str, results: list[SuiteResult],
                       problems: dict[str, list[str]] | None = None) -> Path:
    """A self-contained HTML page: every suite, its expectations, the failures with samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    esc = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px}"
             ".ok{color:#070}.bad{color:#b00}</style>",
             f"<h1>{esc(title)}</h1><p>written {datetime.now(timezone.utc).isoformat()}</p>",
             "<table><tr><th>suite</th><th>rows</th><th>expectations</th><th>result</th></tr>"]
    for r in results:
        cls, word = ("ok", "passed") if r.passed else ("bad", f"{len(r.failures)} failed")
        parts.append(f"<tr><td>{esc(r.name)}</td><td>{r.rows}</td><td>{r.evaluated}</td>"
                     f"<td class='{cls}'>{word}</td></tr>")
    parts.append("</table>")
    for r in results:
        for f in r.failures:
            parts.append(f"<h3 class='bad'>{esc(r.name)}: {esc(f.describe())}</h3>"
                         f"<pre>{esc(json.dumps(list(f.rows), default=str, indent=1))}</pre>")
    for name, found in (problems or {}).items():
        cls = "ok" if not found else "bad"
        parts.append(f"<h3 class='{cls}'>{esc(name)}: {'passed' if not found else 'failed'}</h3>")
        parts += [f"<pre>{esc(p)}</pre>" for p in found]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path
