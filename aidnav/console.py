"""What the command line shows: the days' table with posted figures and restatements, the
closing lines, amounts in GAIB, and the one-line end of a slip or a failure. It reads the
warehouse and the posted reports; it never runs anything."""

from __future__ import annotations

import sys
from datetime import date

from aidnav.config import UI_PORT, Settings


def slip(line: str) -> int:
    """An operator's slip: one line, `error: <what> — <what to do>`, and exit code 2."""
    print(f"error: {line}", file=sys.stderr, flush=True)
    return 2


def end_with_error(cause) -> int:
    """The last line of a failed command: its cause and remedy; returns the exit code."""
    print(f"error: {cause.line}", file=sys.stderr, flush=True)
    return cause.exit_code


def transactions_recorded(settings: Settings) -> int:
    """Transactions the warehouse records as sent (one per posted report and chain)."""
    import duckdb

    if not settings.warehouse_path.exists():
        return 0
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        if not has_table(con, "publications"):
            return 0
        return con.execute("select count(*) from marts.publications "
                           "where status = 'posted' and tx_hash is not null").fetchone()[0]
    finally:
        con.close()


def print_closing(settings: Settings, days: list[date], outcome: dict) -> None:
    """The command's last words: what the run computed, posted and sent, and where the
    report, the exports, the log and the UI are."""
    import duckdb

    computed = posted = 0
    if settings.warehouse_path.exists():
        con = duckdb.connect(str(settings.warehouse_path))
        try:
            if has_table(con, "fct_nav_daily"):
                computed = con.execute(
                    "select count(distinct day) from marts.fct_nav_daily "
                    "where day between ? and ?", [days[0], days[-1]]).fetchone()[0]
            if has_table(con, "publications"):
                posted = con.execute(
                    "select count(distinct day) from marts.publications where kind = 'nav' "
                    "and status = 'posted' and day between ? and ?",
                    [days[0], days[-1]]).fetchone()[0]
        finally:
            con.close()
    sent = outcome["transactions"]
    if outcome["success"]:
        print(f"{computed} of {len(days)} day(s) computed, {posted} on chain, {sent} "
              f"transaction(s) sent" + (" (already on chain)" if sent == 0 and posted else "")
              + f", {outcome['checks_failed']} check(s) failed")
    else:  # what the warehouse holds may be an earlier run's: say so
        print(f"the run failed: {sent} transaction(s) sent, {outcome['checks_failed']} "
              f"check(s) failed; the warehouse holds {computed} of {len(days)} day(s) "
              f"computed and {posted} on chain, this run's or earlier runs'")
    report = settings.reports_dir / "html" / f"{days[-1].isoformat()}.html"
    places = [f"report {report}" if report.exists() else None,
              f"exports {settings.exports_dir}" if settings.exports_dir.exists() else None,
              f"log {outcome['log']}" if outcome.get("log") else None,
              f"UI `aidnav ui` (http://127.0.0.1:{UI_PORT})"]
    print("see: " + ", ".join(p for p in places if p))


def print_summary(settings: Settings, days: list[date]) -> None:
    """The run's days: posted figures beside their transactions (a posted day shows its
    posted report, whatever a re-run computed since), then restatements, set apart."""
    import duckdb

    from publishing.publication import posted_report_figures

    if not settings.warehouse_path.exists():
        return
    # a plain connection: DuckDB refuses a read-only one beside a writer in this process
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        rows = con.execute(
            """
            select n.day, n.nav_usd, n.share_price, n.backing_ratio,
                   (select min(tx_hash) from marts.publications p
                     where p.day = n.day and p.kind = 'nav' and p.status = 'posted') as nav_tx,
                   (select min(tx_hash) from marts.publications p
                     where p.day = n.day and p.kind = 'rewards' and p.status = 'posted')
                     as rewards_tx
            from marts.fct_nav_daily n
            where n.day between ? and ? order by n.day
            """,
            [min(days), max(days)],
        ).fetchall()
        restated = con.execute(
            """
            select day, figure, coalesce(cast(posted_value as varchar), posted_text),
                   coalesce(cast(restated_value as varchar), restated_text), difference,
                   restated_report
            from marts.restatements r
            where day between ? and ? and restatement = (
                select max(restatement) from marts.restatements q
                where q.day = r.day and q.kind = r.kind)
            order by day, kind, figure
            """,
            [min(days), max(days)],
        ).fetchall() if has_table(con, "restatements") else []
        chains = con.execute(
            "select chain_id, count(distinct day), min(day), max(day) from marts.publications "
            "where status = 'posted' and kind = 'nav' and day between ? and ? "
            "group by chain_id order by chain_id", [min(days), max(days)]).fetchall() \
            if has_table(con, "publications") else []
        pending = con.execute(
            "select chain_id, string_agg(distinct cast(day as varchar), ', ' order by "
            "cast(day as varchar)) from marts.publications where status = 'pending' "
            "group by chain_id order by chain_id").fetchall() if has_table(
                con, "publications") else []
    except duckdb.CatalogException as exc:  # no marts yet after a failed first run
        print(f"(no summary: {exc})")
        return
    finally:
        con.close()
    header = f"{'day':<10}  {'NAV (USD)':>18}  {'share price':>11}  {'backing':>8}  {'NAV tx':<14}  {'rewards tx':<14}"
    print(header)
    print("-" * len(header))
    for day, nav, price, backing, nav_tx, rew_tx in rows:
        if nav_tx:  # on chain: the posted report's figures
            nav, price, backing = posted_report_figures(settings.reports_dir, day)
        print(
            f"{day.isoformat():<10}  {nav:>18,.2f}  {price:>11.6f}  "
            f"{(f'{backing:.4f}' if backing is not None else '-'):>8}  "
            f"{short_tx(nav_tx):<14}  {short_tx(rew_tx):<14}"
        )
    if restated:
        print()
        print("Restated, not posted (the chain keeps the figures above):")
        head = (f"{'day':<10}  {'figure':<13}  {'posted':>28}  {'restated':>28}  "
                f"{'difference':>24}  report")
        print(head)
        print("-" * len(head))
        for day, figure, posted, new, diff, report in restated:
            print(f"{day.isoformat():<10}  {figure:<13}  {posted:>28}  {new:>28}  "
                  f"{'-' if diff is None else f'{diff:+}':>24}  {report}")
    if len(chains) > 1:  # every chain of AIDNAV_CHAIN_TARGETS, side by side
        for chain_id, count, first, last in chains:
            print(f"chain {chain_id}: {count} day(s) posted, {first} .. {last}")
    for chain_id, missed in pending:
        print(f"chain {chain_id} missed {missed}: pending, the next run posts them in order")


def has_table(con, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = ?", [name]).fetchone()[0])


def short_tx(tx: str | None) -> str:
    return "-" if not tx else f"{tx[:8]}…{tx[-4:]}"


def gaib(wei: int | str) -> str:
    """An amount of wei in GAIB (18 decimals), exact: every decimal shown."""
    from decimal import Decimal

    return f"{Decimal(int(wei)).scaleb(-18):,.18f}"
