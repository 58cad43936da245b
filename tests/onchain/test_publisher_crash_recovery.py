"""A publisher killed between send and receipt, a stuck transaction, an RPC node that is
down: every case ends with exactly one post, found again through the intent ledger."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound

from onchain import anvil
from onchain.contracts_client import contract_at
from onchain.deploy import deploy_contract
from publishing.publisher import PublishError, RpcUnavailable, publish_nav
from onchain.signer import Signer, anvil_test_signer
from onchain.testing import free_port, local_anvil

pytestmark = pytest.mark.chain

GENESIS = 1773532800  # 2026-03-15T00:00:00Z: 2026-03-01 has ended on this chain
DAY = date(2026, 3, 1)
DAY_NUMBER = 20513
# fct_nav_daily.csv of the worked example, 2026-03-01, in wei
PRICE, NAV, SUPPLY = 1_058541655371304975, 200601_457260273972602740, 195800 * 10**18
HASH = bytes.fromhex("11" * 32)
# anvil's published test account #0 key (Foundry docs): must never appear in any output
ANVIL_0_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def own_chain(tmp_path: Path) -> Iterator[tuple[Web3, Contract, Signer]]:
    """A fresh anvil for one test (automine is switched off in some of them)."""
    with local_anvil(tmp_path / "anvil", timestamp=GENESIS) as (rpc_url, _stop):
        w3 = Web3(Web3.HTTPProvider(rpc_url))
        signer = anvil_test_signer(0)
        oracle = contract_at(w3, "NavOracle", deploy_contract(w3, signer, "NavOracle", 100))
        yield w3, oracle, signer


def _automine(w3: Web3, on: bool) -> None:
    w3.provider.make_request("evm_setAutomine", [on])  # type: ignore[arg-type]


def _mine_later(w3: Web3, delay_s: float) -> threading.Thread:
    def mine() -> None:
        time.sleep(delay_s)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    thread = threading.Thread(target=mine, daemon=True)
    thread.start()
    return thread


def _posts(oracle: Contract) -> list[str]:
    logs = oracle.events.NavPosted().get_logs(from_block=0)
    return ["0x" + bytes(entry["transactionHash"]).hex() for entry in logs]


def _ledger(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _in_pool(w3: Web3, tx_hash: str) -> bool:
    try:
        return w3.eth.get_transaction(tx_hash) is not None
    except TransactionNotFound:
        return False


def _wait_for(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


CHILD = """
import sys
from datetime import date
from pathlib import Path
from web3 import Web3
from publishing.publisher import publish_nav
from onchain.signer import anvil_test_signer
w3 = Web3(Web3.HTTPProvider(sys.argv[1]))
publish_nav(w3, anvil_test_signer(0), sys.argv[2], date(2026, 3, 1), {price}, {nav}, {supply},
            bytes.fromhex("11" * 32), intent_path=Path(sys.argv[3]), receipt_timeout_s=600)
print("unreachable: the receipt never comes with automine off")
""".format(price=PRICE, nav=NAV, supply=SUPPLY)


def test_killed_after_send_before_receipt_posts_once(
    own_chain: tuple[Web3, Contract, Signer], tmp_path: Path,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    w3, oracle, signer = own_chain
    ledger = tmp_path / "chain" / "intents.jsonl"
    nonce_before = w3.eth.get_transaction_count(signer.address)
    _automine(w3, False)

    # first run: a real process that signs, records, broadcasts, then waits for a receipt
    rpc_url = w3.provider.endpoint_uri  # type: ignore[attr-defined]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, rpc_url, oracle.address, str(ledger)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for(lambda: w3.eth.get_transaction_count(signer.address, "pending")
                  == nonce_before + 1)
    finally:
        os.kill(child.pid, signal.SIGKILL)  # the publisher dies before any receipt
        child_out = child.communicate(timeout=10)[0].decode()
    assert child.returncode == -signal.SIGKILL
    (signed,) = _ledger(ledger)
    assert signed["event"] == "signed" and signed["nonce"] == nonce_before
    assert _posts(oracle) == []  # sent, not mined

    # second run: finds the intent, does not send again, waits for the pending one
    _mine_later(w3, 0.5)
    result = publish_nav(w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH,
                         intent_path=ledger)
    assert result.status == "posted" and result.tx_hash == signed["tx_hash"]
    assert "resumed" in result.detail
    assert _posts(oracle) == [signed["tx_hash"]]
    assert w3.eth.get_transaction_count(signer.address, "pending") == nonce_before + 1
    assert [r["event"] for r in _ledger(ledger)] == ["signed", "mined"]

    _automine(w3, True)
    again = publish_nav(w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH,
                        intent_path=ledger)
    assert again.status == "already_posted" and again.tx_hash == signed["tx_hash"]
    assert w3.eth.get_transaction_count(signer.address) == nonce_before + 1

    out = capsys.readouterr()
    shown = child_out + out.out + out.err + caplog.text + ledger.read_text()
    assert ANVIL_0_KEY not in shown.lower()


def test_killed_before_broadcast_sends_the_recorded_bytes(
    own_chain: tuple[Web3, Contract, Signer], tmp_path: Path
) -> None:
    w3, oracle, signer = own_chain
    ledger = tmp_path / "intents.jsonl"
    nonce_before = w3.eth.get_transaction_count(signer.address)

    class Crash(Exception):
        pass

    def crash(_tx_hash: str, _tx: dict) -> None:
        raise Crash  # the intent is on disk; the node never saw the transaction

    with pytest.raises(Crash):
        publish_nav(w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH,
                    intent_path=ledger, on_signed=crash)
    (signed,) = _ledger(ledger)
    assert w3.eth.get_transaction_count(signer.address, "pending") == nonce_before

    result = publish_nav(w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH,
                         intent_path=ledger)
    assert result.status == "posted" and result.tx_hash == signed["tx_hash"]
    assert _posts(oracle) == [signed["tx_hash"]]
    assert w3.eth.get_transaction_count(signer.address) == nonce_before + 1


def test_stuck_transaction_is_replaced_under_the_same_nonce(
    own_chain: tuple[Web3, Contract, Signer], tmp_path: Path
) -> None:
    w3, oracle, signer = own_chain
    ledger = tmp_path / "intents.jsonl"
    nonce_before = w3.eth.get_transaction_count(signer.address)
    _automine(w3, False)
    results: list = []
    worker = threading.Thread(target=lambda: results.append(publish_nav(
        w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH, intent_path=ledger,
        stuck_after_s=0.3, receipt_timeout_s=30)), daemon=True)
    worker.start()
    _wait_for(lambda: ledger.exists() and any(r["event"] == "replaced" for r in _ledger(ledger)))
    # the ledger records the replacement before sending it: mine once it is in the pool
    replacement = next(r for r in _ledger(ledger) if r["event"] == "replaced")["tx_hash"]
    _wait_for(lambda: _in_pool(w3, replacement))
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    worker.join(timeout=30)
    _automine(w3, True)

    entries = _ledger(ledger)
    signed = entries[0]
    # under load the publisher may bump the fee more than once: the last replacement is mined
    replaced = [e for e in entries if e["event"] == "replaced"][-1]
    assert signed["event"] == "signed"
    assert replaced["max_fee"] > signed["max_fee"]
    assert replaced["tip"] > signed["tip"]
    (result,) = results
    assert result.status == "posted" and result.tx_hash == replaced["tx_hash"]
    assert _posts(oracle) == [replaced["tx_hash"]]
    assert w3.eth.get_transaction_count(signer.address) == nonce_before + 1
    tx = w3.eth.get_transaction(replaced["tx_hash"])
    assert tx["nonce"] == signed["nonce"] == nonce_before


def test_rpc_down_fails_clearly_then_a_later_run_posts_once(tmp_path: Path) -> None:
    port = free_port()
    state_dir = tmp_path / "anvil"
    status = anvil.start(state_dir / "state.json", port=port, timestamp=GENESIS)
    try:
        w3 = Web3(Web3.HTTPProvider(status.rpc_url))
        signer = anvil_test_signer(0)
        oracle_address = deploy_contract(w3, signer, "NavOracle", 100)
        nonce_before = w3.eth.get_transaction_count(signer.address)
        anvil.stop(state_dir)

        ledger = tmp_path / "intents.jsonl"
        with pytest.raises(RpcUnavailable, match=f"127.0.0.1:{port} unreachable"):
            publish_nav(w3, signer, oracle_address, DAY, PRICE, NAV, SUPPLY, HASH,
                        intent_path=ledger)
        assert not ledger.exists()  # nothing was signed

        anvil.start(state_dir / "state.json", port=port)
        first = publish_nav(w3, signer, oracle_address, DAY, PRICE, NAV, SUPPLY, HASH,
                            intent_path=ledger)
        second = publish_nav(w3, signer, oracle_address, DAY, PRICE, NAV, SUPPLY, HASH,
                             intent_path=ledger)
        assert (first.status, second.status) == ("posted", "already_posted")
        assert _posts(contract_at(w3, "NavOracle", oracle_address)) == [first.tx_hash]
        assert w3.eth.get_transaction_count(signer.address) == nonce_before + 1
    finally:
        anvil.stop(state_dir)


def test_pending_transaction_past_the_timeout_is_left_for_the_next_run(
    own_chain: tuple[Web3, Contract, Signer], tmp_path: Path
) -> None:
    w3, oracle, signer = own_chain
    ledger = tmp_path / "intents.jsonl"
    _automine(w3, False)
    with pytest.raises(PublishError, match="not mined after .*later run resumes it"):
        publish_nav(w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH,
                    intent_path=ledger, receipt_timeout_s=0.3)
    _automine(w3, True)  # mines the pending transaction
    result = publish_nav(w3, signer, oracle.address, DAY, PRICE, NAV, SUPPLY, HASH,
                         intent_path=ledger)
    assert result.status in ("posted", "already_posted")
    assert len(_posts(oracle)) == 1
    assert oracle.functions.latestDay().call() == DAY_NUMBER
    assert [r["event"] for r in _ledger(ledger)] == ["signed", "mined"]  # intent closed
