"""A node may count an account's nonce as used a moment before it serves the receipt of
the transaction that used it (seen on anvil under load, 288 days into a 365-day
backfill). The publisher must wait for the receipt, not call its own mined transaction
"dropped"; a nonce really taken by another transaction is still recognised as such."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from publishing.intents import IntentLedger, send_with_intent, settle
from onchain.signer import anvil_test_signer
from onchain.testing import local_anvil
from onchain.transactions import prepare

pytestmark = pytest.mark.chain

# anvil's public test account #1: a plain value transfer target
TO = Web3.to_checksum_address("0x70997970c51812dc3a010c7d01b5e6e01b0e9c4a")


class LateReceipts(Web3.HTTPProvider):
    """A real anvil endpoint whose first `hidden` receipt answers are `null`, the way a
    node answers while its nonce already counts the mined transaction (the race itself
    cannot be produced on demand, so it is replayed here)."""

    def __init__(self, url: str, hidden: int):
        super().__init__(url)
        self.hidden = hidden

    def make_request(self, method, params):  # type: ignore[override]
        if method == "eth_getTransactionReceipt" and self.hidden > 0:
            self.hidden -= 1
            return {"jsonrpc": "2.0", "id": 1, "result": None}
        return super().make_request(method, params)


@pytest.fixture()
def rpc_url(tmp_path: Path) -> Iterator[str]:
    with local_anvil(tmp_path / "anvil") as (url, _stop):
        yield url


def test_a_receipt_served_after_the_nonce_counts_is_still_found_with_faked_late_receipts(
        rpc_url: str):
    w3 = Web3(LateReceipts(rpc_url, hidden=4))
    ledger = IntentLedger(None)
    receipt = send_with_intent(w3, anvil_test_signer(0), ledger, "transfer:1",
                               {"from": anvil_test_signer(0).address, "to": TO, "value": 1, "data": "0x"})
    assert receipt is not None and receipt["status"] == 1
    assert ledger.open_intent("transfer:1") is None  # closed as mined, not dropped
    assert [r["event"] for r in ledger._records()] == ["signed", "mined"]


def test_a_nonce_taken_by_another_transaction_is_still_dropped(rpc_url: str):
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    signer = anvil_test_signer(0)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    ledger = IntentLedger(None)
    tx = prepare(w3, signer, {"from": signer.address, "to": TO, "value": 1, "data": "0x"})
    tx.setdefault("value", 0)
    signed = signer.sign_transaction(tx)
    ledger.record_signed("transfer:2", int(tx["chainId"]), tx,
                         "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex())
    # another transaction of the same account takes that nonce and is mined; ours never is
    other = dict(tx, value=2, maxFeePerGas=tx["maxFeePerGas"] * 2,
                 maxPriorityFeePerGas=tx["maxPriorityFeePerGas"] * 2)
    w3.eth.send_raw_transaction(signer.sign_transaction(other).raw_transaction)
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    intent = ledger.open_intent("transfer:2")
    assert settle(w3, signer, ledger, intent, receipt_grace_s=0.5) is None
    assert ledger._records()[-1]["event"] == "dropped"
