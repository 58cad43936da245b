"""Every chain of AIDNAV_CHAIN_TARGETS gets each day, exactly once: two local anvils (each
with its own chain id, on ports the test picks), the second stopped for a day and started
again. The run of the day it was down still posts to the first chain, says which chain
missed which day, and the next run posts the missed day there first, then the new one."""

from __future__ import annotations

from collections import Counter

import duckdb
import pytest
from web3 import Web3

from onchain import anvil
from onchain.contracts_client import contract_for_role
from onchain.testing import free_port
from tests.quality.anvil_book import D1, D2, D3, EPOCH, Book, run_aidnav

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("two_chains")]

SECOND_CHAIN_ID = 31338


def _posted(w3: Web3, registry) -> tuple[Counter, Counter, int]:
    """Days posted (NavPosted), epochs proposed (RootProposed), and the latest day."""
    oracle = contract_for_role(w3, registry, "nav_oracle")
    distributor = contract_for_role(w3, registry, "rewards_distributor")
    navs = Counter(int(e["args"]["day"]) for e in oracle.events.NavPosted().get_logs(
        from_block=0))
    roots = Counter(int(e["args"]["epoch"]) for e in distributor.events.RootProposed().get_logs(
        from_block=0))
    return navs, roots, int(oracle.functions.latestDay().call())


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory):
    book = Book(tmp_path_factory.mktemp("two_chains"))
    second_url = f"http://127.0.0.1:{free_port()}"
    book.env["AIDNAV_CHAIN_TARGETS"] = (f"{book.env['AIDNAV_RPC_URL']}=31337,"
                                        f"{second_url}={SECOND_CHAIN_ID}")
    second = Web3(Web3.HTTPProvider(second_url))
    registry = book.data / "registry"
    try:
        made = book.make_demo()
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        assert second.eth.chain_id == SECOND_CHAIN_ID
        runs = [book.run(D1)]
        after_d1 = _posted(second, registry)
        anvil.stop(anvil.target_state_dir(book.data / "chain", SECOND_CHAIN_ID))
        runs.append(book.run(D2))
        first_after_d2 = _posted(book.w3, registry)
        up = run_aidnav(["chain", "up"], book.env)
        assert up.returncode == 0, up.stderr
        after_d2 = _posted(second, registry)
        runs.append(book.run(D3))
        yield book, second, registry, runs, after_d1, first_after_d2, after_d2
    finally:
        book.chain_down()


def test_every_run_succeeds(story):
    runs = story[3]
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_the_run_of_the_day_the_chain_was_down_says_so_and_posts_to_the_other(story):
    _book, _second, _registry, runs, after_d1, first_after_d2, after_d2 = story
    assert f"chain {SECOND_CHAIN_ID} missed {D2}" in runs[1].stdout
    assert after_d1[2] == (D1 - EPOCH).days
    assert first_after_d2[2] == (D2 - EPOCH).days  # the first chain got the day
    assert after_d2[2] == (D1 - EPOCH).days  # the second one, restarted, still lacks it
    assert "missed" not in runs[2].stdout  # the next run settled it
    for chain_id in (31337, SECOND_CHAIN_ID):  # the summary shows both chains
        assert f"chain {chain_id}: 1 day(s) posted, {D3} .. {D3}" in runs[2].stdout


def test_each_chain_holds_every_day_exactly_once(story):
    book, second, registry, *_ = story
    numbers = [(d - EPOCH).days for d in (D1, D2, D3)]
    for w3 in (book.w3, second):
        navs, roots, latest = _posted(w3, registry)
        assert navs == Counter(numbers) and roots == Counter(numbers)
        assert latest == numbers[-1]
    con = duckdb.connect(str(book.warehouse), read_only=True)
    try:
        rows = con.execute("select chain_id, status, count(*) from marts.publications "
                           "group by all order by all").fetchall()
    finally:
        con.close()
    assert rows == [(31337, "posted", 6), (SECOND_CHAIN_ID, "posted", 6)]
