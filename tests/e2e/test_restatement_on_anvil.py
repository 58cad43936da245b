"""A late invoice version for a posted day, as an operator meets it: three days posted, a
provider re-issues an invoice of the first day's period with another amount, the range is
run again (twice) and then the next day. Every run succeeds, nothing is posted twice, the
posted reports still hash to what the chain holds, the restatement is written beside them
with both figures, and the next day is posted."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from web3 import Web3

from onchain.build import load_artifact
from tests.quality.anvil_book import D1, D2, D3, EPOCH, Book, run_aidnav

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("restatement")]

D4 = D3 + timedelta(days=1)
HEADER = ("invoice_id,version,provider_id,deal_id,customer_id,issue_date,due_date,"
          "period_start,period_end,usage_hours,amount_usd,status,paid_date\n")
# the demo's revenue-share invoice of D-NO-001 (60 % share, target multiple 1.25) for
# 2026-11-18 .. 2026-11-30 is 5,709.60 USD; version 2 says 7,009.60: 100 USD a day more
RESTATED = HEADER + ("INV-NO-FJRD-0001,2,P-NO-FJRD,D-NO-001,C-FINSIGHT,2026-11-18,2026-12-18,"
                     "2026-11-18,2026-11-30,1872.00,7009.60,issued,\n")
WEI = Decimal(10) ** 18


def _sha(path: Path) -> str:
    return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def _nav_of(book: Book, day) -> tuple[int, int, int, str]:
    oracle = book.w3.eth.contract(
        address=Web3.to_checksum_address(book.addresses("nav_oracle")[0]),
        abi=load_artifact("NavOracle")["abi"])
    price, nav, supply, report_hash, _at = oracle.functions.navOf((day - EPOCH).days).call()
    return int(price), int(nav), int(supply), "0x" + bytes(report_hash).hex()


def _rows(book: Book, sql: str) -> list[tuple]:
    con = duckdb.connect(str(book.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory):
    book = Book(tmp_path_factory.mktemp("restatement"))
    made = run_aidnav(["demo", "--no-run", "--days", "4", "--end-day", D4.isoformat(),
                       "--scale", "0.05"], book.env)
    reports = book.data / "reports"
    try:
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        span = ["run", "--start", D1.isoformat(), "--end", D3.isoformat()]
        first = run_aidnav(span, book.env)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        posted = {d: _nav_of(book, d) for d in (D1, D2, D3)}
        files = {p: p.read_bytes() for p in sorted(reports.glob("*/2026-*.json"))}
        block = book.w3.eth.block_number

        late = book.data / "landing" / "invoices" / "P-NO-FJRD" / D3.isoformat()
        (late / "invoices_v2.csv").write_text(RESTATED)
        runs = [run_aidnav(span, book.env), run_aidnav(span, book.env)]
        block_after_range = book.w3.eth.block_number
        restated_files = sorted(p.name for p in reports.glob("*/*.restated-*.json"))
        restatements = _rows(book, "select count(*) from marts.restatements")[0][0]
        runs.append(book.run(D4))
        yield book, posted, files, block, block_after_range, runs, restated_files, restatements
    finally:
        book.chain_down()


def test_every_run_succeeds_and_nothing_is_posted_twice(story):
    book, _posted, _files, block, block_after_range, runs, *_ = story
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert block_after_range == block  # the re-runs of posted days sent nothing
    counts = _rows(book, "select day, kind, count(*) from marts.publications "
                         "group by all order by day, kind")
    assert counts == [(d, k, 1) for d in (D1, D2, D3, D4) for k in ("nav", "rewards")]


def test_posted_reports_are_untouched_and_hash_to_the_chain(story):
    book, posted, files, *_ = story
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} was rewritten"
    for day, (_p, _n, _s, report_hash) in posted.items():
        assert _sha(book.data / "reports" / "nav" / f"{day}.json") == report_hash
        assert _nav_of(book, day) == posted[day]  # the chain keeps the posted figures


def test_restatements_hold_the_posted_and_the_restated_figures(story):
    book, posted, _files, *_rest = story
    restated_files, restatements = story[6], story[7]
    # the invoice's period covers the three days: each NAV report restated once, the
    # rewards (stakes only) not at all, and the second run of the range adds nothing
    assert restated_files == [f"{d}.restated-1.json" for d in (D1, D2, D3)]
    rows = _rows(book, "select day, kind, figure, restatement, posted_value, restated_value, "
                       "difference, posted_report_hash, restated_report_hash, cause "
                       "from marts.restatements order by day, figure")
    assert len(rows) == restatements
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (d, "nav", f, 1) for d in (D1, D2, D3) for f in ("nav_usd", "share_price")]
    mart = dict(((d, "nav_usd"), n) for d, n in _rows(
        book, "select day, nav_usd from marts.fct_nav_daily"))
    mart.update(((d, "share_price"), p) for d, p in _rows(
        book, "select day, share_price from marts.fct_nav_daily"))
    for day, kind, figure, _n, old, new, diff, posted_hash, new_hash, cause in rows:
        price_wei, nav_wei, _supply, chain_hash = posted[day]
        assert old == Decimal(nav_wei if figure == "nav_usd" else price_wei) / WEI
        assert new == mart[(day, figure)] and diff == new - old
        assert posted_hash == chain_hash
        restated = book.data / "reports" / "nav" / f"{day}.restated-1.json"
        assert new_hash == _sha(restated)
        assert json.loads(restated.read_text())["restates"]["report_hash"] == chain_hash
        assert "invoices_v2.csv" in cause
    # by hand, on D1: 100 USD more revenue a day, 60 % share = 60, of which 60 / 1.25 = 48
    # returns principal: carrying value +12; performance fee 15 % of 12 = 1.8; protocol fee
    # 0.25 % a year on 12 USD more gross assets
    d1_nav = next(r for r in rows if r[0] == D1 and r[2] == "nav_usd")
    expected = Decimal(12) - Decimal("1.8") - Decimal(12) * Decimal("0.0025") / 365
    assert abs(d1_nav[6] - expected) < Decimal("1e-15")


def test_the_summary_prints_posted_figures_beside_the_transactions(story):
    book, posted, *_ = story
    runs = story[5]
    out = runs[0].stdout
    table, _, restated = out.partition("Restated, not posted")
    d1_line = next(line for line in table.splitlines() if line.startswith(D1.isoformat()))
    assert f"{Decimal(posted[D1][1]) / WEI:,.2f}" in d1_line
    assert restated and D1.isoformat() in restated and "nav_usd" in restated


def test_the_next_day_is_posted(story):
    book, *_ = story
    assert book.latest_day() == D4
    assert _nav_of(book, D4)[3] == _sha(book.data / "reports" / "nav" / f"{D4}.json")


def test_restatements_reach_the_parquet_exports_and_the_daily_report(story):
    book, posted, *_ = story
    parquet = book.data / "exports" / "restatements" / f"date={D1}" / "part-0.parquet"
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"select figure, posted_value, restated_value, difference, typeof(difference) "
            f"from read_parquet('{parquet}') order by figure").fetchall()
    finally:
        con.close()
    assert [r[0] for r in rows] == ["nav_usd", "share_price"]
    nav = rows[0]
    assert nav[1] == Decimal(posted[D1][1]) / WEI and nav[3] == nav[2] - nav[1]
    assert nav[4] == "DECIMAL(38,18)"
    page = (book.data / "reports" / "html" / f"{D1}.html").read_text()
    restated = page.split("Restatements (not posted)", 1)[1]
    assert str(nav[1]) in restated and str(nav[2]) in restated
