"""Idempotent, crash-safe publication of a day's NAV and rewards root.

Every publication reads the chain first and decides:
- `already_posted`: the day/epoch is on chain with the same figures: nothing is sent
  (the original transaction is looked up from the contract's event);
- `restatement`: the day/epoch is on chain with different figures: nothing is sent, the
  caller records and reports it (a posted day is never overwritten);
- `skipped_past_day`: a later day/epoch is already posted: never posts out of order;
- `dry_run`: it would post; the call was simulated (eth_call) and nothing was sent;
- `posted`: an EIP-1559 transaction was sent and mined (by this run, or by an earlier
  run that stopped before its receipt and whose intent this run settled).

With `intent_path` every transaction is recorded in a durable intent ledger before it is
broadcast (`publishing.intents`); a run that finds an open intent for the same post settles
it (waits for it, broadcasts the same bytes again, or replaces it with higher fees under
the same nonce) instead of sending a second one.

Rewards: `publish_rewards` first accepts a pending root whose timelock has passed, then
*proposes* the epoch's root (`RewardsDistributor.proposeRoot`); with a timelock of 0 the
proposal is accepted in the same transaction. Claims use the latest accepted root.

An RPC node that stays unreachable after the retries raises `RpcUnavailable` naming the
endpoint; nothing half-done is left but an open intent, which the next run settles.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from web3 import Web3
from web3.contract import Contract

from onchain.contracts_client import contract_at
from publishing.intents import IntentLedger, TransactionPending, send_with_intent, settle
from onchain.days import day_end_timestamp, day_from_number, day_number
from onchain.transactions import TRANSIENT_ERRORS, TxSigner, with_retries

log = logging.getLogger(__name__)

UNLIMITED_MOVE = 2**256 - 1  # NavOracle override limit meaning "any move"

Kind = Literal["nav", "rewards"]
Status = Literal["posted", "already_posted", "restatement", "skipped_past_day", "dry_run"]
OnSigned = Callable[[str, dict[str, Any]], None]


class PublishError(RuntimeError):
    """The publication cannot be made as asked (day not ended, bad input, revert)."""


class RpcUnavailable(PublishError):
    """The RPC node did not answer after the retries."""


@dataclass(frozen=True)
class PublishResult:
    day: date
    kind: Kind
    status: Status
    tx_hash: str | None
    block_number: int | None
    report_hash: str
    detail: str = ""
    # the report hash already on chain for this day (already_posted / restatement)
    onchain_report_hash: str | None = None
    # rewards only: the accepted epoch after this call, and when a still-pending root of
    # this epoch becomes acceptable (unix seconds; None when accepted)
    accepted_epoch: int | None = None
    pending_until: int | None = None


def reason_hash(reason: str) -> bytes:
    """sha256 of the UTF-8 text of an override reason (what `setOverride` records)."""
    return hashlib.sha256(reason.encode("utf-8")).digest()


def _bytes32(value: str | bytes, what: str) -> bytes:
    try:
        raw = value if isinstance(value, bytes) else bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise PublishError(f"{what} {value!r} is not hex") from None
    if len(raw) != 32:
        raise PublishError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def _check_uint(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise PublishError(f"{what} must be a uint256 int, got {value!r}")


def _endpoint(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", None) or type(w3.provider).__name__)


def _find_event_tx(
    contract: Contract, event: str, key: str, number: int, from_block: int
) -> tuple[str | None, int | None]:
    """Transaction hash and block of the event that posted `number` (None when not found)."""
    try:
        logs = with_retries(
            lambda: getattr(contract.events, event)().get_logs(
                from_block=from_block, argument_filters={key: number}
            ),
            f"{event} logs",
        )
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:  # a node that limits log ranges: the figures still decide
        log.warning("could not look up %s(%s=%s): %s", event, key, number, exc)
        return None, None
    if not logs:
        return None, None
    entry = logs[-1]
    return "0x" + bytes(entry["transactionHash"]).hex(), int(entry["blockNumber"])


def _chain_time(w3: Web3) -> int:
    return int(with_retries(lambda: w3.eth.get_block("latest"), "latest block")["timestamp"])


@dataclass(frozen=True)
class _Sending:
    """How transactions of one publish call are sent."""

    w3: Web3
    signer: TxSigner
    ledger: IntentLedger
    chain_id: int
    on_signed: OnSigned | None
    stuck_after_s: float
    receipt_timeout_s: float

    def key(self, contract: Contract, function: str, number: int) -> str:
        return f"{self.chain_id}:{contract.address.lower()}:{function}:{number}"

    def simulate(self, contract: Contract, function: str, args: list[Any]) -> dict[str, Any]:
        data = contract.encode_abi(function, args=args)
        call = {"from": self.signer.address, "to": contract.address, "data": data}
        try:
            with_retries(lambda: self.w3.eth.call(call), f"simulate {function}")  # type: ignore[arg-type]
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            hint = ""
            if "move too large" in str(exc):
                hint = " (an admin override for the day lets it through: override_reason)"
            raise PublishError(f"{function} would revert: {exc}{hint}") from exc
        return call

    def send(self, key: str, call: dict[str, Any], what: str) -> tuple[str, int]:
        receipt = send_with_intent(self.w3, self.signer, self.ledger, key, call,
                                   on_signed=self.on_signed, stuck_after_s=self.stuck_after_s,
                                   timeout_s=self.receipt_timeout_s)
        return self._mined(receipt, what)

    def settle_open(self, key: str) -> tuple[str, str, int] | None:
        """Settle an earlier run's open intent for `key`: (calldata, tx, block) when it was
        mined successfully, None when it was dropped or reverted (decide again)."""
        intent = self.ledger.open_intent(key)
        if intent is None:
            return None
        log.info("%s: settling transaction(s) %s of an earlier run", key,
                 ", ".join(intent.hashes))
        receipt = settle(self.w3, self.signer, self.ledger, intent,
                         stuck_after_s=self.stuck_after_s, timeout_s=self.receipt_timeout_s)
        if receipt is None or receipt["status"] != 1:
            return None
        return intent.data, "0x" + bytes(receipt["transactionHash"]).hex(), int(
            receipt["blockNumber"])

    @staticmethod
    def _mined(receipt: Any, what: str) -> tuple[str, int]:
        if receipt is None:
            raise PublishError(f"{what}: the nonce was used by another transaction; run again")
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if receipt["status"] != 1:
            raise PublishError(f"{what}: transaction {tx_hash} reverted in block "
                               f"{receipt['blockNumber']}")
        return tx_hash, int(receipt["blockNumber"])


def _sending(w3: Web3, signer: TxSigner, intent_path: Path | None, on_signed: OnSigned | None,
             stuck_after_s: float, receipt_timeout_s: float) -> _Sending:
    chain_id = int(with_retries(lambda: w3.eth.chain_id, "chain_id"))
    return _Sending(w3, signer, IntentLedger(intent_path), chain_id, on_signed,
                    stuck_after_s, receipt_timeout_s)


def _rpc_guard(w3: Web3, what: str, intent_path: Path | None, run: Callable[[], PublishResult]
               ) -> PublishResult:
    try:
        return run()
    except TRANSIENT_ERRORS as exc:
        where = (f"; transactions already signed are in {intent_path} and the next run "
                 "settles them") if intent_path is not None else ""
        raise RpcUnavailable(
            f"{what}: RPC node {_endpoint(w3)} unreachable after retries "
            f"({type(exc).__name__}){where}"
        ) from None
    except TransactionPending as exc:
        raise PublishError(f"{what}: {exc}") from None


# ------------------------------------------------------------------------ NAV
def publish_nav(
    w3: Web3,
    signer: TxSigner,
    oracle_address: str,
    day: date,
    share_price_wei: int,
    nav_wei: int,
    aid_supply_wei: int,
    report_hash: bytes,
    dry_run: bool = False,
    on_signed: OnSigned | None = None,
    from_block: int = 0,
    *,
    intent_path: Path | None = None,
    override_reason: str | None = None,
    override_max_move_bps: int = UNLIMITED_MOVE,
    stuck_after_s: float = 60.0,
    receipt_timeout_s: float = 300.0,
) -> PublishResult:
    """Post day `day`'s share price, NAV and AID supply (18 decimals) unless already there.

    `override_reason`: record an audited override of the share-price move limit for this
    day first (`NavOracle.setOverride(day, override_max_move_bps, sha256(reason))`; the
    signer must be the oracle's admin).
    """
    for value, what in ((share_price_wei, "share_price_wei"), (nav_wei, "nav_wei"),
                        (aid_supply_wei, "aid_supply_wei")):
        _check_uint(value, what)
    digest = _bytes32(report_hash, "report_hash")

    def run() -> PublishResult:
        sending = _sending(w3, signer, intent_path, on_signed, stuck_after_s, receipt_timeout_s)
        return _publish_nav(sending, oracle_address, day, share_price_wei, nav_wei,
                            aid_supply_wei, digest, dry_run, from_block, override_reason,
                            override_max_move_bps)

    return _rpc_guard(w3, f"NAV of {day}", intent_path, run)


def _publish_nav(
    sending: _Sending, oracle_address: str, day: date, share_price_wei: int, nav_wei: int,
    aid_supply_wei: int, digest: bytes, dry_run: bool, from_block: int,
    override_reason: str | None, override_max_move_bps: int,
) -> PublishResult:
    w3 = sending.w3
    number = day_number(day)
    oracle = contract_at(w3, "NavOracle", oracle_address)
    args = [number, share_price_wei, nav_wei, aid_supply_wei, digest]
    wanted_data = oracle.encode_abi("postNav", args=args)
    key = sending.key(oracle, "postNav", number)

    def result(status: Status, tx: str | None = None, block: int | None = None,
               detail: str = "", posted: bytes | None = None) -> PublishResult:
        return PublishResult(day, "nav", status, tx, block, "0x" + digest.hex(), detail,
                             None if posted is None else "0x" + posted.hex())

    for _ in range(3):  # settle an earlier run's transaction, then decide once more
        posted = with_retries(lambda: oracle.functions.navOf(number).call(), "navOf")
        share_price, nav, supply, posted_hash, posted_at = posted
        if posted_at != 0:
            if not dry_run:
                sending.settle_open(key)  # close an earlier run's intent (mined by now)
            tx, block = _find_event_tx(oracle, "NavPosted", "day", number, from_block)
            wanted = (share_price_wei, nav_wei, aid_supply_wei, digest)
            on_chain = (int(share_price), int(nav), int(supply), bytes(posted_hash))
            if on_chain == wanted:
                return result("already_posted", tx, block, posted=on_chain[3])
            detail = (
                f"day {day} on chain: sharePrice={on_chain[0]} navUsd={on_chain[1]} "
                f"aidSupply={on_chain[2]} reportHash=0x{on_chain[3].hex()}; new: "
                f"sharePrice={share_price_wei} navUsd={nav_wei} aidSupply={aid_supply_wei} "
                f"reportHash=0x{digest.hex()}"
            )
            log.warning("NAV restatement, not posted: %s", detail)
            return result("restatement", tx, block, detail, posted=on_chain[3])

        if not dry_run:
            settled = sending.settle_open(key)
            if settled is not None:
                data, tx, block = settled
                if data.lower() == wanted_data.lower():
                    log.info("NAV of %s posted by an earlier run's %s (block %s)", day, tx, block)
                    return result("posted", tx, block,
                                  detail=f"resumed: transaction {tx} from the intent ledger")
                continue  # an earlier run posted other figures: re-read, a restatement

        latest = int(with_retries(lambda: oracle.functions.latestDay().call(), "latestDay"))
        if latest > number:
            return result("skipped_past_day",
                          detail=f"day {day_from_number(latest)} is already posted")
        if day_end_timestamp(number) > _chain_time(w3):
            raise PublishError(f"day {day} has not ended at the chain's latest block time")

        if override_reason is not None:
            _ensure_override(sending, oracle, number, override_reason, override_max_move_bps,
                             dry_run)
        if dry_run and override_reason is not None:
            return result("dry_run", detail="override not recorded (dry run); postNav not "
                          "simulated past it")
        call = sending.simulate(oracle, "postNav", args)
        if dry_run:
            return result("dry_run")
        tx, block = sending.send(key, call, f"postNav day {day}")
        log.info("posted NAV of %s in %s (block %s)", day, tx, block)
        return result("posted", tx, block)
    raise PublishError(f"NAV of {day}: the chain state kept changing while publishing; run again")


def _ensure_override(sending: _Sending, oracle: Contract, number: int, reason: str,
                     max_move_bps: int, dry_run: bool) -> None:
    digest = reason_hash(reason)
    current_bps, current_reason, set_at = with_retries(
        lambda: oracle.functions.overrideOf(number).call(), "overrideOf")
    if set_at != 0 and int(current_bps) == max_move_bps and bytes(current_reason) == digest:
        return
    call = sending.simulate(oracle, "setOverride", [number, max_move_bps, digest])
    if dry_run:
        return
    tx, _ = sending.send(sending.key(oracle, "setOverride", number), call,
                         f"setOverride day {number}")
    log.warning("override of the share-price move limit for day %s recorded in %s "
                "(reason sha256 0x%s)", day_from_number(number), tx, digest.hex())


# ------------------------------------------------------------------------ rewards
def publish_rewards(
    w3: Web3,
    signer: TxSigner,
    distributor_address: str,
    epoch: int,
    root: str,
    total: int,
    report_hash: bytes,
    dry_run: bool = False,
    on_signed: OnSigned | None = None,
    from_block: int = 0,
    *,
    intent_path: Path | None = None,
    stuck_after_s: float = 60.0,
    receipt_timeout_s: float = 300.0,
) -> PublishResult:
    """Propose the rewards Merkle `root` of `epoch` (= day number) unless already proposed;
    first accept a pending root whose timelock has passed."""
    _check_uint(epoch, "epoch")
    _check_uint(total, "total")
    digest = _bytes32(report_hash, "report_hash")
    root_bytes = _bytes32(root, "root")

    def run() -> PublishResult:
        sending = _sending(w3, signer, intent_path, on_signed, stuck_after_s, receipt_timeout_s)
        return _publish_rewards(sending, distributor_address, epoch, root_bytes, total, digest,
                                dry_run, from_block)

    return _rpc_guard(w3, f"rewards root of epoch {epoch}", intent_path, run)


def accept_due_root(sending: _Sending, distributor: Contract, dry_run: bool) -> str | None:
    """Send `acceptRoot` when a pending root's timelock has passed; its tx hash or None."""
    epoch, _root, _total, _hash, valid_at = with_retries(
        lambda: distributor.functions.pendingRoot().call(), "pendingRoot")
    if valid_at == 0 or valid_at > _chain_time(sending.w3):
        return None
    key = sending.key(distributor, "acceptRoot", int(epoch))
    if not dry_run and sending.settle_open(key) is not None:
        return None  # an earlier run's acceptRoot was mined
    call = sending.simulate(distributor, "acceptRoot", [])
    if dry_run:
        return None
    tx, block = sending.send(key, call, f"acceptRoot epoch {epoch}")
    log.info("accepted rewards root of epoch %s in %s (block %s)", epoch, tx, block)
    return tx


def _publish_rewards(
    sending: _Sending, distributor_address: str, epoch: int, root_bytes: bytes, total: int,
    digest: bytes, dry_run: bool, from_block: int,
) -> PublishResult:
    w3 = sending.w3
    day = day_from_number(epoch)
    distributor = contract_at(w3, "RewardsDistributor", distributor_address)
    args = [epoch, root_bytes, total, digest]
    wanted_data = distributor.encode_abi("proposeRoot", args=args)
    key = sending.key(distributor, "proposeRoot", epoch)

    def state() -> tuple[int, int | None]:
        accepted = int(with_retries(lambda: distributor.functions.currentEpoch().call(),
                                    "currentEpoch"))
        record = with_retries(lambda: distributor.functions.epochOf(epoch).call(), "epochOf")
        pending_until = None if record[5] != 0 or record[6] else int(record[4]) or None
        return accepted, pending_until

    def result(status: Status, tx: str | None = None, block: int | None = None,
               detail: str = "", posted: bytes | None = None) -> PublishResult:
        accepted, pending_until = state()
        return PublishResult(day, "rewards", status, tx, block, "0x" + digest.hex(), detail,
                             None if posted is None else "0x" + posted.hex(),
                             accepted_epoch=accepted, pending_until=pending_until)

    for _ in range(3):
        record = with_retries(lambda: distributor.functions.epochOf(epoch).call(), "epochOf")
        posted_root, posted_total, posted_hash, proposed_at, _valid, _accepted, revoked = record
        wanted = (root_bytes, total, digest)
        on_chain = (bytes(posted_root), int(posted_total), bytes(posted_hash))
        if proposed_at != 0 and not revoked:
            if not dry_run:
                sending.settle_open(key)  # close an earlier run's intent (mined by now)
            tx, block = _find_event_tx(distributor, "RootProposed", "epoch", epoch, from_block)
            if on_chain == wanted:
                accept_due_root(sending, distributor, dry_run)
                return result("already_posted", tx, block, posted=on_chain[2])
            detail = (
                f"epoch {epoch} on chain: root=0x{on_chain[0].hex()} total={on_chain[1]} "
                f"reportHash=0x{on_chain[2].hex()}; new: root=0x{root_bytes.hex()} "
                f"total={total} reportHash=0x{digest.hex()}"
            )
            log.warning("rewards restatement, not posted: %s", detail)
            return result("restatement", tx, block, detail, posted=on_chain[2])
        if proposed_at != 0 and revoked and on_chain == wanted:
            raise PublishError(
                f"the root 0x{root_bytes.hex()} of epoch {epoch} was revoked by the guardian; "
                "it is not proposed again (a corrected report gives a new root)"
            )

        if not dry_run:
            settled = sending.settle_open(key)
            if settled is not None:
                data, tx, block = settled
                if data.lower() == wanted_data.lower():
                    log.info("rewards root of epoch %s proposed by an earlier run's %s",
                             epoch, tx)
                    return result("posted", tx, block,
                                  detail=f"resumed: transaction {tx} from the intent ledger")
                continue

        accepted = int(with_retries(lambda: distributor.functions.currentEpoch().call(),
                                    "currentEpoch"))
        pending_epoch = int(with_retries(lambda: distributor.functions.pendingRoot().call(),
                                         "pendingRoot")[0])
        if max(accepted, pending_epoch) > epoch:
            later = max(accepted, pending_epoch)
            return result("skipped_past_day", detail=f"epoch {later} is already proposed")
        if day_end_timestamp(epoch) > _chain_time(w3):
            raise PublishError(
                f"epoch {epoch} (day {day}) has not ended at the chain's latest block time")

        accept_due_root(sending, distributor, dry_run)
        call = sending.simulate(distributor, "proposeRoot", args)
        if dry_run:
            return result("dry_run")
        tx, block = sending.send(key, call, f"proposeRoot epoch {epoch}")
        log.info("proposed rewards root of epoch %s in %s (block %s)", epoch, tx, block)
        return result("posted", tx, block)
    raise PublishError(f"rewards of epoch {epoch}: the chain state kept changing; run again")
