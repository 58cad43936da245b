"""A durable intent ledger, and sending a transaction so that a crash never doubles it.

Before a transaction is broadcast, its intent (key, sender, nonce, calldata, the signed
bytes and fees) is appended to a JSON Lines file and fsynced. A later run that finds an
open intent for the same key settles it instead of sending anew:
- a receipt for any of its attempts: the intent is closed as `mined` (or `reverted`);
- the nonce is still unused: the node still holds the transaction, or the signed bytes
  are broadcast again (same nonce, same hash), and once it has waited `stuck_after_s` it
  is replaced by the same call with fees raised by 12.5 % (same nonce: only one of the
  attempts can ever be mined);
- the nonce was consumed by something else and none of its attempts was mined: `dropped`
  (the caller re-reads the chain and decides again).

A line is one record: `{"v": 1, "event": "signed" | "replaced" | "mined" | "reverted" |
"dropped", "key": ..., "at": unix seconds, ...}`. Signed transaction bytes hold a
signature, never the key. With `path=None` the ledger lives in memory (same logic, no
crash safety).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from onchain.transactions import TxSigner, fee_fields, prepare, with_retries

log = logging.getLogger(__name__)

LEDGER_VERSION = 1
DEFAULT_INTENT_FILE = Path("chain") / "intents.jsonl"
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 1125, 1000  # +12.5 % (geth needs 10 %)


def default_intent_path(data_dir: Path) -> Path:
    """`<data_dir>/chain/intents.jsonl`."""
    return Path(data_dir) / DEFAULT_INTENT_FILE


class IntentLedgerError(ValueError):
    """The ledger file cannot be read (names the file and line)."""


class TransactionPending(RuntimeError):
    """A sent transaction was not mined in time; its intent stays open for a later run."""


@dataclass
class Attempt:
    tx_hash: str
    raw: str
    max_fee: int
    tip: int
    sent_at: float


@dataclass
class Intent:
    key: str
    chain_id: int
    sender: str
    nonce: int
    to: str
    data: str
    gas: int
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def hashes(self) -> list[str]:
        return [a.tx_hash for a in self.attempts]


class IntentLedger:
    """Append-only JSON Lines ledger of transaction intents (see module doc)."""

    def __init__(self, path: Path | None) -> None:
        self.path = None if path is None else Path(path)
        self._memory: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"IntentLedger({self.path or 'in memory'})"

    # ------------------------------------------------------------------ storage
    def _records(self) -> list[dict[str, Any]]:
        if self.path is None:
            return list(self._memory)
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        records: list[dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if number == len(lines):  # a write cut short by a crash: never fsynced
                    log.warning("%s line %d: incomplete record ignored", self.path, number)
                    continue
                raise IntentLedgerError(
                    f"{self.path} line {number}: not a JSON record ({exc.msg})"
                ) from None
            if not isinstance(record, dict) or "event" not in record or "key" not in record:
                raise IntentLedgerError(
                    f"{self.path} line {number}: expected an object with 'event' and 'key'"
                )
            records.append(record)
        return records

    def _append(self, record: dict[str, Any]) -> None:
        record = {"v": LEDGER_VERSION, "at": time.time(), **record}
        if self.path is None:
            self._memory.append(record)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ queries
    def open_intent(self, key: str) -> Intent | None:
        """The intent of `key` that has no outcome yet, if any."""
        current: Intent | None = None
        for record in self._records():
            if record["key"] != key:
                continue
            event = record["event"]
            if event == "signed":
                current = Intent(
                    key=key, chain_id=int(record["chain_id"]), sender=record["sender"],
                    nonce=int(record["nonce"]), to=record["to"], data=record["data"],
                    gas=int(record["gas"]),
                )
                current.attempts.append(_attempt(record))
            elif event == "replaced" and current is not None:
                current.attempts.append(_attempt(record))
            elif event in ("mined", "reverted", "dropped"):
                current = None
        return current

    def outcomes(self, key: str) -> list[dict[str, Any]]:
        return [r for r in self._records() if r["key"] == key and r["event"] != "signed"]

    # ------------------------------------------------------------------ records
    def record_signed(self, key: str, chain_id: int, tx: dict[str, Any], tx_hash: str,
                      raw: str) -> None:
        self._append({
            "event": "signed", "key": key, "chain_id": chain_id, "sender": tx["from"],
            "nonce": int(tx["nonce"]), "to": tx["to"], "data": tx["data"],
            "gas": int(tx["gas"]), "tx_hash": tx_hash, "raw": raw,
            "max_fee": int(tx["maxFeePerGas"]), "tip": int(tx["maxPriorityFeePerGas"]),
        })

    def record_replaced(self, key: str, tx_hash: str, raw: str, max_fee: int, tip: int) -> None:
        self._append({"event": "replaced", "key": key, "tx_hash": tx_hash, "raw": raw,
                      "max_fee": max_fee, "tip": tip})

    def record_outcome(self, key: str, event: str, tx_hash: str | None = None,
                       block: int | None = None) -> None:
        self._append({"event": event, "key": key, "tx_hash": tx_hash, "block": block})


def _attempt(record: dict[str, Any]) -> Attempt:
    return Attempt(tx_hash=record["tx_hash"], raw=record["raw"], max_fee=int(record["max_fee"]),
                   tip=int(record["tip"]), sent_at=float(record["at"]))


# ---------------------------------------------------------------------- sending
def _receipt(w3: Web3, tx_hash: str) -> TxReceipt | None:
    def get() -> TxReceipt | None:
        try:
            return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    return with_retries(get, f"receipt {tx_hash}")


def _known(w3: Web3, tx_hash: str) -> bool:
    def get() -> bool:
        try:
            w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            return True
        except TransactionNotFound:
            return False

    return with_retries(get, f"transaction {tx_hash}")


def _send_raw(w3: Web3, raw: str, tx_hash: str) -> None:
    """Broadcast signed bytes; "already known" and a used nonce are not errors here (the
    settle loop finds out what became of the nonce)."""

    def send() -> None:
        try:
            w3.eth.send_raw_transaction(raw)
        except (Web3RPCError, ValueError) as exc:
            text = str(exc).lower()
            benign = ("already known", "already imported", "nonce too low", "underpriced",
                      "already in the pool", "known transaction")
            if any(word in text for word in benign):
                log.info("broadcast of %s: %s", tx_hash, exc)
                return
            raise

    with_retries(send, "send_raw_transaction")


def _bumped(previous: int, floor: int) -> int:
    return max(previous * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR + 1, floor)


def _replace(w3: Web3, signer: TxSigner, ledger: IntentLedger, intent: Intent) -> None:
    last = intent.attempts[-1]
    current = fee_fields(w3)
    tip = _bumped(last.tip, current["maxPriorityFeePerGas"])
    max_fee = _bumped(last.max_fee, current["maxFeePerGas"])
    max_fee = max(max_fee, tip)
    tx = {"from": intent.sender, "to": intent.to, "data": intent.data, "gas": intent.gas,
          "nonce": intent.nonce, "chainId": intent.chain_id, "type": 2,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip, "value": 0}
    signed = signer.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    raw = "0x" + bytes(signed.raw_transaction).hex()
    ledger.record_replaced(intent.key, tx_hash, raw, max_fee, tip)
    intent.attempts.append(Attempt(tx_hash, raw, max_fee, tip, time.time()))
    log.warning("%s: nonce %d stuck, replaced %s by %s (max fee %d, tip %d)",
                intent.key, intent.nonce, last.tx_hash, tx_hash, max_fee, tip)
    _send_raw(w3, raw, tx_hash)


def settle(
    w3: Web3,
    signer: TxSigner,
    ledger: IntentLedger,
    intent: Intent,
    stuck_after_s: float = 60.0,
    timeout_s: float = 300.0,
    poll_s: float = 0.1,
    max_replacements: int = 3,
    receipt_grace_s: float = 5.0,
) -> TxReceipt | None:
    """Wait until one attempt of `intent` is mined (its receipt, closed `mined` or
    `reverted`) or its nonce is used by another transaction (None, closed `dropped`).

    Raises `TransactionPending` after `timeout_s` with the intent still open.
    """
    deadline = time.monotonic() + timeout_s
    nonce_used_at: float | None = None
    while True:
        for attempt in reversed(intent.attempts):
            receipt = _receipt(w3, attempt.tx_hash)
            if receipt is not None:
                event = "mined" if receipt["status"] == 1 else "reverted"
                ledger.record_outcome(intent.key, event, attempt.tx_hash,
                                      int(receipt["blockNumber"]))
                return receipt
        used = int(with_retries(
            lambda: w3.eth.get_transaction_count(intent.sender, "latest"), "nonce"))  # type: ignore[arg-type]
        if used > intent.nonce:
            # a node can count the nonce a moment before it serves the receipt of the
            # transaction that used it (anvil does, under load): only a nonce used for
            # `receipt_grace_s` with no receipt for any attempt means another transaction
            if any(_receipt(w3, a.tx_hash) is not None for a in intent.attempts):
                continue
            nonce_used_at = nonce_used_at or time.monotonic()
            if time.monotonic() - nonce_used_at < receipt_grace_s:
                time.sleep(poll_s)
                continue
            ledger.record_outcome(intent.key, "dropped")
            log.warning("%s: nonce %d was used by another transaction; %s dropped",
                        intent.key, intent.nonce, ", ".join(intent.hashes))
            return None
        latest = intent.attempts[-1]
        if not _known(w3, latest.tx_hash):
            log.info("%s: %s unknown to the node, broadcasting the signed bytes again",
                     intent.key, latest.tx_hash)
            _send_raw(w3, latest.raw, latest.tx_hash)
        elif (time.time() - latest.sent_at >= stuck_after_s
              and len(intent.attempts) <= max_replacements):
            _replace(w3, signer, ledger, intent)
        if time.monotonic() >= deadline:
            raise TransactionPending(
                f"{intent.key}: transaction {latest.tx_hash} (nonce {intent.nonce}) not mined "
                f"after {timeout_s:.0f}s; its intent stays open in {ledger.path or 'memory'} "
                "and a later run resumes it"
            )
        time.sleep(poll_s)


def send_with_intent(
    w3: Web3,
    signer: TxSigner,
    ledger: IntentLedger,
    key: str,
    call: dict[str, Any],
    on_signed: Callable[[str, dict[str, Any]], None] | None = None,
    stuck_after_s: float = 60.0,
    timeout_s: float = 300.0,
) -> TxReceipt | None:
    """Prepare and sign `call`, record the intent, broadcast, then `settle` it."""
    tx = prepare(w3, signer, call)
    tx.setdefault("value", 0)
    signed = signer.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    raw = "0x" + bytes(signed.raw_transaction).hex()
    chain_id = int(tx["chainId"])
    ledger.record_signed(key, chain_id, tx, tx_hash, raw)
    if on_signed is not None:
        on_signed(tx_hash, tx)
    _send_raw(w3, raw, tx_hash)
    intent = ledger.open_intent(key)
    assert intent is not None and intent.hashes[-1] == tx_hash
    return settle(w3, signer, ledger, intent, stuck_after_s=stuck_after_s, timeout_s=timeout_s)
