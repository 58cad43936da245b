"""Play the demo book's on-chain scenario on a local anvil chain with real block timestamps.

Idempotent and resumable from chain state alone: each planned step is sent by a TEST key
that sends nothing else, at a known nonce, so a step whose sender's on-chain nonce is past
it has been played. A second call on the same chain sends no transaction.
"""

from __future__ import annotations

import json
import logging
import time as wall_time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from tqdm import tqdm
from web3 import Web3

from demo.book import DemoBook
from demo.chain_plan import MINTER_KEY, ScenarioPlan, Step, build_plan, genesis_timestamp
from demo.keys import derive_test_key
from demo.registry import CONFIRMATIONS
from onchain.build import load_artifact
from onchain.signer import anvil_test_signer
from onchain.transactions import send_transaction

log = logging.getLogger(__name__)

ETH_FOR_GAS = 1000 * 10**18
ETH_LOW_WATER = 10 * 10**18
ARTIFACTS = {"usdc": "MockUSDC", "aid": "AidToken", "said": "StakedAid"}


class ScenarioError(RuntimeError):
    """The chain is not in a state the scenario can be played on."""


@dataclass(frozen=True)
class ChainScenarioResult:
    steps_planned: int
    transactions_sent: int
    steps_already_on_chain: int
    first_block: int  # latest block before this call
    last_block: int  # latest block after this call
    holders: int
    deposits_usdc: int
    principal_usdc: int
    yield_minted_aid: int
    estimated_min_backing_ratio: Decimal
    estimated_max_share_price_move_bps: Decimal
    chain_time: int


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise ScenarioError(f"{method}{params}: {response['error']}")
    return response.get("result")


def _latest(w3: Web3) -> tuple[int, int]:
    block = w3.eth.get_block("latest")
    return int(block["number"]), int(block["timestamp"])


def _contracts(w3: Web3, addresses: dict[str, str]) -> dict[str, Any]:
    out = {}
    for role, name in ARTIFACTS.items():
        if role not in addresses:
            raise ScenarioError(f"addresses: role {role!r} missing (got {sorted(addresses)})")
        out[role] = w3.eth.contract(address=Web3.to_checksum_address(addresses[role]),
                                    abi=load_artifact(name)["abi"])
    return out


def _ensure_minter(w3: Web3, contracts: dict[str, Any]) -> int:
    """The scenario's minter key may mint USDC and AID (set once by the deployer)."""
    minter = derive_test_key(MINTER_KEY).address
    deployer = anvil_test_signer(0)
    sent = 0
    for role in ("usdc", "aid"):
        c = contracts[role]
        if not c.functions.is_minter(minter).call():
            send_transaction(w3, deployer, {"to": c.address,
                                            "data": c.encode_abi("set_minter", args=[minter, True])})
            sent += 1
    return sent


def _call_data(step: Step, contracts: dict[str, Any], holder_addr: str) -> tuple[str, str]:
    usdc, aid, said = contracts["usdc"], contracts["aid"], contracts["said"]
    to = contracts["said"].address if step.to == "said" else (derive_test_key(step.to).address if step.to else "")
    if step.action == "usdc_mint":
        return usdc.address, usdc.encode_abi("mint", args=[to, step.amount])
    if step.action == "aid_mint":
        return aid.address, aid.encode_abi("mint", args=[to, step.amount])
    if step.action == "usdc_transfer":
        return usdc.address, usdc.encode_abi("transfer", args=[to, step.amount])
    if step.action == "aid_approve":
        return aid.address, aid.encode_abi("approve", args=[said.address, step.amount])
    if step.action == "said_deposit":
        return said.address, said.encode_abi("deposit", args=[step.amount, to])
    if step.action == "aid_burn":
        return aid.address, aid.encode_abi("burn", args=[step.amount])
    balance = int(said.functions.balanceOf(holder_addr).call())
    shares = int(Decimal(balance) * step.fraction)
    if shares <= 0:
        raise ScenarioError(f"{step.sender} has no sAID to {step.action} at step {step.note}")
    if step.action == "said_transfer":
        return said.address, said.encode_abi("transfer", args=[to, shares])
    if step.action == "said_redeem":
        return said.address, said.encode_abi("redeem", args=[shares, holder_addr, holder_addr])
    raise ScenarioError(f"unknown scenario action {step.action!r}")


def drive_chain(w3: Web3, data_dir: Path, book: DemoBook, addresses: dict[str, str],
                progress: bool = True) -> ChainScenarioResult:
    """Play the book's scenario (deposits, staking, funding, repayments, fees, yield) on chain.

    Block timestamps follow the plan (`evm_setNextBlockTimestamp`), then the chain time is
    moved to the wall clock (at least the end of the last demo day) and `confirmations`
    blocks are mined so that every demo day is final.
    """
    plan: ScenarioPlan = build_plan(book)
    chain_id = int(w3.eth.chain_id)
    if chain_id != book.chain_id:
        raise ScenarioError(f"RPC node is on chain {chain_id}, the book was generated for {book.chain_id}")
    contracts = _contracts(w3, addresses)
    first_block, _ = _latest(w3)
    sent = _ensure_minter(w3, contracts)

    for name in plan.actors:
        addr = derive_test_key(name).address
        if w3.eth.get_balance(addr) < ETH_LOW_WATER:
            _rpc(w3, "anvil_setBalance", [addr, hex(ETH_FOR_GAS)])

    nonces: dict[str, int] = {}
    done = 0
    log_rows: list[dict[str, Any]] = []
    for step in tqdm(plan.steps, desc="chain scenario", unit="tx", disable=not progress):
        key = derive_test_key(step.sender)
        if step.sender not in nonces:
            nonces[step.sender] = int(w3.eth.get_transaction_count(key.address))
        if nonces[step.sender] > step.nonce:
            done += 1
            continue
        if nonces[step.sender] < step.nonce:
            raise ScenarioError(f"{step.sender} ({key.address}) is at nonce {nonces[step.sender]} but the "
                                f"plan's next step for it is nonce {step.nonce}: the chain was changed "
                                "outside the scenario")
        _, latest_ts = _latest(w3)
        if latest_ts >= step.ts:
            step_day = datetime.fromtimestamp(step.ts, timezone.utc).date()
            if datetime.fromtimestamp(latest_ts + 1, timezone.utc).date() != step_day:
                raise ScenarioError(
                    f"chain time {datetime.fromtimestamp(latest_ts, timezone.utc):%Y-%m-%dT%H:%M:%SZ} is past "
                    f"the day of step '{step.note}' ({step_day}); start anvil with "
                    f"--timestamp {genesis_timestamp(book.first_day)}")
            ts = latest_ts + 1
        else:
            ts = step.ts
        target, data = _call_data(step, contracts, key.address)
        _rpc(w3, "evm_setNextBlockTimestamp", [ts])
        signer = Account.from_key(key.private_key)
        receipt = send_transaction(w3, signer, {"to": target, "data": data, "nonce": step.nonce})
        nonces[step.sender] += 1
        sent += 1
        log_rows.append({"block": int(receipt["blockNumber"]), "ts": ts, "sender": step.sender,
                         "action": step.action, "to": step.to, "note": step.note,
                         "tx": "0x" + bytes(receipt["transactionHash"]).hex()})

    # make every demo day final: chain time at the wall clock, then `confirmations` blocks
    number, latest_ts = _latest(w3)
    if latest_ts < plan.end_timestamp or sent:
        t = max(int(wall_time.time()), plan.end_timestamp + 1, latest_ts + 1)
        for i in range(CONFIRMATIONS):
            _rpc(w3, "evm_setNextBlockTimestamp", [t + i])
            _rpc(w3, "evm_mine", [])
    last_block, chain_time = _latest(w3)

    if log_rows:
        out = Path(data_dir) / "chain" / "demo_scenario_log.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in log_rows)
    return ChainScenarioResult(
        steps_planned=len(plan.steps), transactions_sent=sent, steps_already_on_chain=done,
        first_block=first_block, last_block=last_block, holders=len(plan.holders),
        deposits_usdc=plan.deposits_usdc, principal_usdc=plan.principal_usdc,
        yield_minted_aid=plan.yield_minted_aid,
        estimated_min_backing_ratio=plan.estimated_min_backing_ratio,
        estimated_max_share_price_move_bps=plan.estimated_max_share_price_move_bps,
        chain_time=chain_time)
