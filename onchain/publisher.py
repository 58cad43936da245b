"""Idempotent publication of a day's NAV and rewards root.

Every publication reads the chain first and decides:
- `already_posted`: the day/epoch is on chain with the same figures: nothing is sent
  (the original transaction is looked up from the contract's event);
- `restatement`: the day/epoch is on chain with different figures: nothing is sent, the
  caller records and reports it (a posted day is never overwritten);
- `skipped_past_day`: a later day/epoch is already posted: never posts out of order;
- `dry_run`: it would post; the call was simulated (eth_call) and nothing was sent;
- `posted`: an EIP-1559 transaction was sent and mined.

The steps (decide, prepare, sign, broadcast, confirm) are separate so that an intent
ledger can record the signed transaction before it is broadcast (`on_signed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from web3 import Web3
from web3.contract import Contract

from onchain.contracts_client import contract_at
from onchain.transactions import TxSigner, prepare, broadcast, wait_for_receipt, with_retries

log = logging.getLogger(__name__)

EPOCH = date(1970, 1, 1)
SECONDS_PER_DAY = 86400

Kind = Literal["nav", "rewards"]
Status = Literal["posted", "already_posted", "restatement", "skipped_past_day", "dry_run"]
OnSigned = Callable[[str, dict[str, Any]], None]


class PublishError(RuntimeError):
    """The publication cannot be made as asked (day not ended, bad input, revert)."""


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


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the oracle's day and Chainlink roundId, the rewards epoch)."""
    return (day - EPOCH).days


def day_from_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


def _report_hash_bytes(report_hash: bytes | str) -> bytes:
    if isinstance(report_hash, str):
        text = report_hash[2:] if report_hash.startswith("0x") else report_hash
        try:
            report_hash = bytes.fromhex(text)
        except ValueError:
            raise PublishError(f"report_hash {report_hash!r} is not hex") from None
    if len(report_hash) != 32:
        raise PublishError(f"report_hash must be 32 bytes (a sha256), got {len(report_hash)}")
    return bytes(report_hash)


def _bytes32(value: str | bytes, what: str) -> bytes:
    raw = value if isinstance(value, bytes) else bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise PublishError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def _check_uint(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise PublishError(f"{what} must be a uint256 int, got {value!r}")


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
    except Exception as exc:  # a node that limits log ranges: the figures still decide
        log.warning("could not look up %s(%s=%s): %s", event, key, number, exc)
        return None, None
    if not logs:
        return None, None
    entry = logs[-1]
    return "0x" + bytes(entry["transactionHash"]).hex(), int(entry["blockNumber"])


def _chain_time(w3: Web3) -> int:
    return int(with_retries(lambda: w3.eth.get_block("latest"), "latest block")["timestamp"])


def _send(
    w3: Web3,
    signer: TxSigner,
    contract: Contract,
    function: str,
    args: list[Any],
    dry_run: bool,
    on_signed: OnSigned | None,
) -> tuple[str | None, int | None]:
    data = contract.encode_abi(function, args=args)
    call = {"from": signer.address, "to": contract.address, "data": data}
    try:
        with_retries(lambda: w3.eth.call(call), f"simulate {function}")  # type: ignore[arg-type]
    except Exception as exc:
        raise PublishError(f"{function} would revert: {exc}") from exc
    if dry_run:
        return None, None
    tx = prepare(w3, signer, call)
    signed = signer.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    if on_signed is not None:
        on_signed(tx_hash, tx)
    broadcast(w3, signed)
    receipt = wait_for_receipt(w3, tx_hash)
    return tx_hash, int(receipt["blockNumber"])


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
) -> PublishResult:
    """Post day `day`'s share price, NAV and AID supply (18 decimals) unless already there."""
    for value, what in ((share_price_wei, "share_price_wei"), (nav_wei, "nav_wei"),
                        (aid_supply_wei, "aid_supply_wei")):
        _check_uint(value, what)
    digest = _report_hash_bytes(report_hash)
    number = day_number(day)
    oracle = contract_at(w3, "NavOracle", oracle_address)

    def result(status: Status, tx: str | None = None, block: int | None = None,
               detail: str = "", posted: bytes | None = None) -> PublishResult:
        return PublishResult(day, "nav", status, tx, block, "0x" + digest.hex(), detail,
                             None if posted is None else "0x" + posted.hex())

    posted = with_retries(lambda: oracle.functions.navOf(number).call(), "navOf")
    share_price, nav, supply, posted_hash, posted_at = posted
    if posted_at != 0:
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

    latest = int(with_retries(lambda: oracle.functions.latestDay().call(), "latestDay"))
    if latest > number:
        return result("skipped_past_day",
                      detail=f"day {day_from_number(latest)} is already posted")
    if (number + 1) * SECONDS_PER_DAY > _chain_time(w3):
        raise PublishError(f"day {day} has not ended at the chain's latest block time")

    tx, block = _send(w3, signer, oracle, "postNav",
                      [number, share_price_wei, nav_wei, aid_supply_wei, digest],
                      dry_run, on_signed)
    if dry_run:
        return result("dry_run")
    log.info("posted NAV of %s in %s (block %s)", day, tx, block)
    return result("posted", tx, block)


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
) -> PublishResult:
    """Post the rewards Merkle `root` of `epoch` (= day number) unless already there."""
    _check_uint(epoch, "epoch")
    _check_uint(total, "total")
    digest = _report_hash_bytes(report_hash)
    root_bytes = _bytes32(root, "root")
    day = day_from_number(epoch)
    distributor = contract_at(w3, "RewardsDistributor", distributor_address)

    def result(status: Status, tx: str | None = None, block: int | None = None,
               detail: str = "", posted: bytes | None = None) -> PublishResult:
        return PublishResult(day, "rewards", status, tx, block, "0x" + digest.hex(), detail,
                             None if posted is None else "0x" + posted.hex())

    posted_root, posted_total, posted_hash, posted_at = with_retries(
        lambda: distributor.functions.epochOf(epoch).call(), "epochOf"
    )
    if posted_at != 0:
        tx, block = _find_event_tx(distributor, "RootPosted", "epoch", epoch, from_block)
        wanted = (root_bytes, total, digest)
        on_chain = (bytes(posted_root), int(posted_total), bytes(posted_hash))
        if on_chain == wanted:
            return result("already_posted", tx, block, posted=on_chain[2])
        detail = (
            f"epoch {epoch} on chain: root=0x{on_chain[0].hex()} total={on_chain[1]} "
            f"reportHash=0x{on_chain[2].hex()}; new: root=0x{root_bytes.hex()} total={total} "
            f"reportHash=0x{digest.hex()}"
        )
        log.warning("rewards restatement, not posted: %s", detail)
        return result("restatement", tx, block, detail, posted=on_chain[2])

    current = int(with_retries(lambda: distributor.functions.currentEpoch().call(),
                               "currentEpoch"))
    if current > epoch:
        return result("skipped_past_day", detail=f"epoch {current} is already posted")

    if (epoch + 1) * SECONDS_PER_DAY > _chain_time(w3):
        raise PublishError(f"epoch {epoch} (day {day}) has not ended at the chain's latest block time")

    tx, block = _send(w3, signer, distributor, "postRoot", [epoch, root_bytes, total, digest],
                      dry_run, on_signed)
    if dry_run:
        return result("dry_run")
    log.info("posted rewards root of epoch %s in %s (block %s)", epoch, tx, block)
    return result("posted", tx, block)
