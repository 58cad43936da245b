"""End to end, as a user runs it: `aidnav demo` on a small book against a real anvil, then
the posted NAV is read back through the oracle's Chainlink views, and a second demo run
sends no transaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import duckdb
import pytest
from web3 import Web3

from onchain.build import load_artifact
from onchain.testing import free_port

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

END_DAY = date(2026, 11, 20)
DAYS = 3
AIDNAV = str(Path(sys.executable).parent / "aidnav")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AIDNAV, *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ,
        "AIDNAV_DATA_DIR": str(root / "data"),
        "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}",
        "DAGSTER_HOME": str(root / "dagster"),
        "AIDNAV_WAREHOUSE": str(root / "data" / "warehouse.duckdb"),
    }
    args = ["demo", "--days", str(DAYS), "--end-day", END_DAY.isoformat(), "--scale", "0.05"]
    first = _run(args, env)
    try:
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        w3 = Web3(Web3.HTTPProvider(env["AIDNAV_RPC_URL"]))
        block_after_first = w3.eth.block_number
        second = _run(args, env)
        yield env, w3, first, second, block_after_first
    finally:
        _run(["chain", "down"], env)


def _oracle(env: dict[str, str], w3: Web3):
    rows = (Path(env["AIDNAV_DATA_DIR"]) / "registry" / "addresses.csv").read_text().splitlines()
    address = next(r.split(",")[2] for r in rows if ",nav_oracle," in r)
    return w3.eth.contract(address=Web3.to_checksum_address(address),
                           abi=load_artifact("NavOracle")["abi"])


def _mart_share_prices(env: dict[str, str]) -> dict[date, Decimal]:
    con = duckdb.connect(env["AIDNAV_WAREHOUSE"], read_only=True)
    try:
        return dict(con.execute("select day, share_price from marts.fct_nav_daily").fetchall())
    finally:
        con.close()


def test_latest_round_data_is_the_last_day_share_price(demo):
    env, w3, *_ = demo
    round_id, answer, _started, updated, answered_in = _oracle(env, w3).functions.latestRoundData().call()
    assert round_id == (END_DAY - date(1970, 1, 1)).days
    assert answered_in == round_id and updated > 0
    price = _mart_share_prices(env)[END_DAY]
    assert answer == int((price * 10**18).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    assert Decimal("0.99") < Decimal(answer) / 10**18 < Decimal("1.05")


def test_every_demo_day_has_a_round(demo):
    env, w3, *_ = demo
    oracle = _oracle(env, w3)
    for i in range(DAYS):
        day = END_DAY - timedelta(days=i)
        round_id, answer, *_ = oracle.functions.getRoundData((day - date(1970, 1, 1)).days).call()
        assert round_id == (day - date(1970, 1, 1)).days and answer > 0


def test_second_demo_sends_no_transaction_and_keeps_the_rows(demo):
    env, w3, first, second, block_after_first = demo
    assert second.returncode == 0, second.stderr[-3000:]
    assert w3.eth.block_number == block_after_first
    assert "0 transactions sent: already on chain" in second.stdout


def test_demo_prints_the_summary_table(demo):
    _env, _w3, first, *_ = demo
    assert "share price" in first.stdout and "NAV tx" in first.stdout
    assert END_DAY.isoformat() in first.stdout


def test_a_demo_holder_claims_exactly_its_cumulative_with_the_printed_proof(demo):
    from onchain.claims import claim_rewards
    from onchain.contracts_client import contract_at
    from onchain.signer import anvil_test_signer

    env, w3, *_ = demo
    reports = Path(env["AIDNAV_DATA_DIR"]) / "reports" / "rewards"
    latest = json.loads(sorted(reports.glob("*.json"))[-1].read_text())
    account = latest["leaves"][0]["account"]
    printed = _run(["rewards", "proof", account, "--json"], env)
    assert printed.returncode == 0, printed.stderr
    claim = json.loads(printed.stdout.strip().splitlines()[-1])
    assert set(claim) == {"account", "epoch", "root", "cumulative", "proof", "distributor"}

    gaib_address = next(
        r.split(",")[2]
        for r in (Path(env["AIDNAV_DATA_DIR"]) / "registry" / "addresses.csv").read_text().splitlines()
        if ",gaib," in r
    )
    gaib = contract_at(w3, "GaibToken", gaib_address)
    holder = Web3.to_checksum_address(claim["account"])
    before = gaib.functions.balanceOf(holder).call()
    relayer = anvil_test_signer(1)  # anyone may send a claim; the account is paid
    paid = claim_rewards(w3, relayer, claim)
    assert paid == int(claim["cumulative"]) > 0
    assert gaib.functions.balanceOf(holder).call() - before == int(claim["cumulative"])
    assert claim_rewards(w3, relayer, claim) == 0  # a second claim pays nothing

    forged = {**claim, "cumulative": str(int(claim["cumulative"]) * 2)}
    with pytest.raises(Exception, match="invalid proof"):
        claim_rewards(w3, relayer, forged)


def test_changed_figures_for_posted_days_are_restatements_never_reposts(demo):
    """Runs last in this module: it changes the registry of the shared demo."""
    env, w3, *_ = demo
    oracle = _oracle(env, w3)
    posted_before = oracle.functions.latestRoundData().call()
    block_before = w3.eth.block_number
    reserves = Path(env["AIDNAV_DATA_DIR"]) / "registry" / "offchain_reserves.csv"
    day = END_DAY - timedelta(days=1)
    # 1,000 USD of T-bills found for the last two days: their NAV changes
    reserves.write_text(reserves.read_text().rstrip("\n") + f"\n{day},1000,late custodian statement\n")

    rerun = _run(["run", "--start", day.isoformat(), "--end", END_DAY.isoformat()], env)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert w3.eth.block_number == block_before  # nothing sent
    assert oracle.functions.latestRoundData().call() == posted_before
    con = duckdb.connect(env["AIDNAV_WAREHOUSE"], read_only=True)
    try:
        restated = con.execute(
            "select distinct day, kind from marts.restatements order by day, kind").fetchall()
    finally:
        con.close()
    assert restated == [(day, "nav"), (END_DAY, "nav")]
    reports = Path(env["AIDNAV_DATA_DIR"]) / "reports" / "nav"
    assert sorted(p.name for p in reports.glob("*.restated-*.json")) == [
        f"{day}.restated-1.json", f"{END_DAY}.restated-1.json"]
