"""Transient RPC errors are retried; a re-sent signed transaction is not a second one."""

from __future__ import annotations

import pytest
import requests
from web3 import Web3
from web3.exceptions import ContractLogicError

from onchain import transactions
from onchain.signer import Signer, anvil_test_signer
from onchain.transactions import broadcast, prepare, wait_for_receipt, with_retries


def test_transient_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions.time, "sleep", lambda _s: None)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise requests.exceptions.ConnectionError("connection reset")
        return "ok"

    assert with_retries(flaky, "flaky") == "ok" and len(calls) == 3


def test_retries_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions.time, "sleep", lambda _s: None)
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise requests.exceptions.Timeout("timed out")

    with pytest.raises(requests.exceptions.Timeout):
        with_retries(down, "down", attempts=3)
    assert len(calls) == 3


def test_reverts_are_not_retried() -> None:
    calls: list[int] = []

    def revert() -> None:
        calls.append(1)
        raise ContractLogicError("execution reverted: day not ended")

    with pytest.raises(ContractLogicError):
        with_retries(revert, "revert")
    assert len(calls) == 1


@pytest.mark.chain
def test_sending_the_same_signed_bytes_twice_is_one_transaction(
    w3: Web3, deployer: Signer
) -> None:
    receiver = anvil_test_signer(7).address
    before = w3.eth.get_balance(receiver)
    tx = prepare(w3, deployer, {"to": receiver, "value": 12345})
    signed = deployer.sign_transaction(tx)
    first = broadcast(w3, signed)
    wait_for_receipt(w3, first)
    assert broadcast(w3, signed) == first  # e.g. a retry after a lost answer
    assert w3.eth.get_balance(receiver) == before + 12345
