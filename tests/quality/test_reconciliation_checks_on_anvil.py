"""The blocking reconciliations, end to end: a small demo book on a real anvil, the
warehouse's record of it corrupted the way a faulty loader or a manual edit would, and
`aidnav run` for the next day fails with a message naming the check, the figure and both
sides, and the oracle's `latestDay()` does not move.

Each test restores what it changed, so their order does not matter."""

from __future__ import annotations

from datetime import datetime, time, timezone
from decimal import Decimal

import duckdb
import pytest
from tests.quality.anvil_book import D1, D2, D3, Book, book_with_d1_posted

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("quality_recon")]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):
    with book_with_d1_posted(tmp_path_factory.mktemp("quality_recon")) as b:
        yield b


def test_a_deposit_lost_from_the_ingested_events_blocks_the_day(book: Book):
    """A log lost by ingestion: the smallest USDC deposit into the treasury on D2 is deleted
    from raw.chain_events. Ingestion resumes after its checkpoint and never reads that block
    again, so the books now hold less USDC than `balanceOf` on chain; the event-derived
    balance and the NAV mart's reserves must both be named with the chain's figure."""
    treasury = book.addresses("treasury")[0]
    con = duckdb.connect(str(book.warehouse))
    try:
        lost = con.execute(
            """select * from raw.chain_events
               where event = 'Transfer' and lower(address) = ? and lower(arg_to) = ?
                 and lower(arg_from) <> ? and block_timestamp >= ? and block_timestamp < ?
               order by arg_value, block_number limit 1""",
            [book.addresses("usdc")[0], treasury, "0x" + "0" * 40,
             datetime.combine(D2, time.min, timezone.utc),
             datetime.combine(D3, time.min, timezone.utc)]).fetchone()
        assert lost is not None, "the demo book has no USDC deposit into the treasury on D2"
        con.execute("delete from raw.chain_events where chain_id = ? and tx_hash = ? "
                    "and log_index = ?", [lost[0], lost[4], lost[5]])
    finally:
        con.close()
    value = int(lost[12])
    posted = book.latest_day()
    try:
        refused = book.run(D2)
    finally:
        con = duckdb.connect(str(book.warehouse))
        try:
            con.execute(f"insert into raw.chain_events values ({', '.join('?' * len(lost))})",
                        list(lost))
        finally:
            con.close()

    end = book.last_block_before(datetime.combine(D3, time.min, timezone.utc))
    on_chain = book.usdc_balance(treasury, end)
    reserves = sum(book.usdc_balance(h, end)
                   for h in book.addresses("treasury") + book.addresses("collection"))
    assert refused.returncode == 1
    assert "check reserves_and_supplies_match_chain failed" in refused.stderr
    assert (f"{D2}: USDC balance of {treasury} at block " in refused.stderr)
    assert (f"events give {on_chain - value}, balanceOf gives {on_chain} "
            f"(difference {-value})") in refused.stderr
    mart = Decimal(reserves - value) / 10**6
    assert (f"{D2}: fct_nav_daily.reserves_usd {mart:.18f} != "
            f"{Decimal(reserves) / 10**6} on chain") in refused.stderr
    # the deposit was not a deal funding, and the rewards are untouched
    assert "check deal_funding_matches_registry failed" not in refused.stderr
    assert "check rewards_budget_balances failed" not in refused.stderr
    assert book.latest_day() == posted == D1


def test_carried_dust_that_differs_from_the_stored_roots_blocks_the_day(book: Book):
    """A published day's rewards row altered afterwards: D1's dust in
    marts.fct_rewards_roots_daily gains one wei. dbt rewrites only the run's window and
    computes D2's budget from inception, so D2's budget (daily budget + D1's true dust) no
    longer follows from the stored D1 row, and the check must name both figures.

    The other half of the check, paid + dust = budget within the window, cannot be broken
    from outside a run (dbt rebuilds those rows from inception in the same run); it is
    exercised offline in test_gates_offline.py."""
    daily = 10_000 * 10**18  # registry/params.csv: daily_rewards_budget_gaib = 10000
    con = duckdb.connect(str(book.warehouse))
    try:
        (dust,) = con.execute("select dust_wei from marts.fct_rewards_roots_daily where day = ?",
                              [D1]).fetchone()
        con.execute("update marts.fct_rewards_roots_daily set dust_wei = dust_wei + 1 "
                    "where day = ?", [D1])
    finally:
        con.close()
    dust = int(dust)
    posted = book.latest_day()
    try:
        refused = book.run(D2)
    finally:
        con = duckdb.connect(str(book.warehouse))
        try:
            con.execute("update marts.fct_rewards_roots_daily set dust_wei = ? where day = ?",
                        [dust, D1])
        finally:
            con.close()
    assert "daily_rewards_budget_gaib,10000" in (
        book.data / "registry" / "params.csv").read_text()
    assert refused.returncode == 1
    assert "check rewards_budget_balances failed" in refused.stderr
    assert (f"{D2}: budget {daily + dust} wei != daily budget {daily} + carried dust "
            f"{dust + 1}") in refused.stderr
    assert "check reserves_and_supplies_match_chain failed" not in refused.stderr
    assert book.latest_day() == posted == D1
