"""Build, sign, send and confirm EIP-1559 transactions, retrying transient RPC errors.

A transaction is signed once; a retry re-sends the same signed bytes, so a retry after a
timeout can never produce a second transaction (the node answers "already known", or the
nonce is used by the same hash, and the receipt is looked up by hash).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import requests
from eth_account.datastructures import SignedTransaction
from web3 import Web3
from web3.exceptions import (
    ProviderConnectionError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
    ProviderConnectionError,
)


class TxSigner(Protocol):
    """Anything that signs transactions: an eth_account LocalAccount or an onchain.Signer."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, transaction: Mapping[str, Any], /) -> SignedTransaction: ...


class TransactionFailed(RuntimeError):
    """A transaction was mined but reverted, or never confirmed."""


def with_retries(
    call: Callable[[], T], what: str, attempts: int = 4, base_delay_s: float = 0.25
) -> T:
    """Run `call`, retrying transient RPC errors with exponential back-off."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TRANSIENT_ERRORS as exc:
            if attempt == attempts:
                raise
            delay = base_delay_s * 2 ** (attempt - 1)
            log.warning("%s: transient RPC error (%s), retry %d in %.2fs",
                        what, type(exc).__name__, attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def fee_fields(w3: Web3) -> dict[str, int]:
    """EIP-1559 fees: a tip of 1 gwei (capped by the node's suggestion) over 2x base fee."""
    block = with_retries(lambda: w3.eth.get_block("latest"), "get_block")
    base_fee = int(block.get("baseFeePerGas", 0) or 0)
    try:
        tip = int(with_retries(lambda: w3.eth.max_priority_fee, "max_priority_fee"))
    except Exception:  # nodes without eth_maxPriorityFeePerGas
        tip = 10**9
    tip = max(tip, 1)
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base_fee + tip}


def prepare(w3: Web3, signer: TxSigner, transaction: Mapping[str, Any]) -> dict[str, Any]:
    """Fill chain id, nonce, type 2 fees and gas (estimated, +20 %) of `transaction`."""
    tx = dict(transaction)
    tx.setdefault("from", signer.address)
    tx.setdefault("chainId", with_retries(lambda: w3.eth.chain_id, "chain_id"))
    tx.setdefault(
        "nonce",
        with_retries(lambda: w3.eth.get_transaction_count(signer.address, "pending"), "nonce"),
    )
    for key, value in fee_fields(w3).items():
        tx.setdefault(key, value)
    tx.pop("gasPrice", None)
    tx["type"] = 2
    if "gas" not in tx:
        estimate = with_retries(lambda: w3.eth.estimate_gas(tx), "estimate_gas")
        tx["gas"] = int(estimate * 12 // 10)
    return tx


def broadcast(w3: Web3, signed: SignedTransaction) -> str:
    """Send signed bytes (idempotently); returns the 0x transaction hash."""
    tx_hash = "0x" + bytes(signed.hash).hex()

    def send() -> None:
        try:
            w3.eth.send_raw_transaction(signed.raw_transaction)
        except (Web3RPCError, ValueError) as exc:  # JSON-RPC error: same bytes already in the pool or mined
            text = str(exc).lower()
            if "already known" in text or "already imported" in text:
                return
            if "nonce too low" in text and _known(w3, tx_hash):
                return
            raise

    with_retries(send, "send_raw_transaction")
    return tx_hash


def _known(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        return True
    except TransactionNotFound:
        return False


def wait_for_receipt(w3: Web3, tx_hash: str, timeout_s: float = 120.0) -> TxReceipt:
    receipt = with_retries(
        lambda: w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s),  # type: ignore[arg-type]
        f"receipt {tx_hash}",
    )
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {tx_hash} reverted in block {receipt['blockNumber']}")
    return receipt


def send_transaction(
    w3: Web3,
    signer: TxSigner,
    transaction: Mapping[str, Any],
    on_signed: Callable[[str, dict[str, Any]], None] | None = None,
) -> TxReceipt:
    """Prepare, sign, send and confirm; `on_signed(tx_hash, tx)` runs before sending."""
    tx = prepare(w3, signer, transaction)
    signed = signer.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    if on_signed is not None:
        on_signed(tx_hash, tx)
    broadcast(w3, signed)
    return wait_for_receipt(w3, tx_hash)
