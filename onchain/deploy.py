"""Deploy the contracts once and record them in `registry/addresses.csv`.

`ensure_deployed` is idempotent: a contract is (re)deployed only when the chain has no
code at its recorded address (a fresh anvil state, say), or when a contract it depends on
was redeployed (sAID wraps AID; the distributor pays GAIB). A run with every contract in
place sends no transaction and leaves the file as it is.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from aidnav.config import load_settings
from onchain.build import load_artifact
from onchain.contracts_client import (
    ADDRESSES_FILE,
    ADDRESSES_HEADER,
    CONTRACT_ROLES,
    contract_addresses,
    contract_at,
    read_address_rows,
)
from onchain.transactions import TxSigner, send_transaction, with_retries

log = logging.getLogger(__name__)

ROLE_LABELS: dict[str, str] = {
    "usdc": "Mock USDC (6 decimals)",
    "aid": "AID synthetic dollar",
    "said": "sAID ERC-4626 vault over AID",
    "gaib": "GAIB incentive token",
    "nav_oracle": "NAV oracle",
    "rewards_distributor": "GAIB rewards distributor",
}

# a role is redeployed when one it depends on is
DEPENDS_ON: dict[str, str] = {"said": "aid", "rewards_distributor": "gaib"}

# METHODOLOGY section 6 / DATA_CONTRACTS params: `max_share_price_move_bps` 100
DEFAULT_MAX_MOVE_BPS = 100
# seconds between a rewards root's proposal and its acceptance: AIDNAV_REWARDS_TIMELOCK_S
# (aidnav.config: 0 on the local demo chain, each day's root claimable as soon as it is
# posted) or the `rewards_timelock_s` argument.


def has_code(w3: Web3, address: str) -> bool:
    code = with_retries(
        lambda: w3.eth.get_code(Web3.to_checksum_address(address)), f"get_code {address}"
    )
    return len(code) > 0


def deploy_contract(w3: Web3, deployer: TxSigner, name: str, *args: Any) -> str:
    """Deploy contract `name` with constructor `args`; returns its lower-case address."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(*args).data_in_transaction
    receipt = send_transaction(w3, deployer, {"data": data})
    address = receipt["contractAddress"]
    if address is None:
        raise RuntimeError(f"deployment of {name} returned no contract address")
    log.info("deployed %s at %s (block %s)", name, address, receipt["blockNumber"])
    return str(address).lower()


def call(w3: Web3, signer: TxSigner, contract: Contract, function: str, *args: Any) -> TxReceipt:
    """Send a state-changing call `contract.function(*args)` and wait for its receipt."""
    data = contract.encode_abi(function, args=list(args))
    return send_transaction(w3, signer, {"to": contract.address, "data": data})


def default_rewards_timelock_s(env: Mapping[str, str] | None = None) -> int:
    """`AIDNAV_REWARDS_TIMELOCK_S` when set (a non-negative integer), else 0: the settings'
    (read from `env` when given)."""
    return load_settings(env).rewards_timelock_s


def _constructor_args(
    role: str, addresses: dict[str, str], max_move_bps: int, rewards_timelock_s: int
) -> tuple[Any, ...]:
    if role == "nav_oracle":
        return (max_move_bps,)
    if role == "rewards_distributor":
        return (Web3.to_checksum_address(addresses["gaib"]), rewards_timelock_s)
    if role in DEPENDS_ON:
        return (Web3.to_checksum_address(addresses[DEPENDS_ON[role]]),)
    return ()


def _dependency_matches(w3: Web3, role: str, addresses: dict[str, str]) -> bool:
    """sAID's asset is the recorded AID; the distributor's token is the recorded GAIB."""
    if role not in DEPENDS_ON:
        return True
    contract = contract_at(w3, CONTRACT_ROLES[role], addresses[role])
    getter = contract.functions.asset if role == "said" else contract.functions.token
    current = with_retries(lambda: getter().call(), f"{role} dependency")
    return str(current).lower() == addresses[DEPENDS_ON[role]]


def ensure_deployed(
    w3: Web3,
    deployer: TxSigner,
    registry_dir: Path,
    chain_id: int,
    max_move_bps: int = DEFAULT_MAX_MOVE_BPS,
    rewards_timelock_s: int | None = None,
) -> dict[str, str]:
    """Make sure every contract role exists on chain `chain_id`; returns role -> address.

    A newly deployed oracle and distributor make the deployer their admin, publisher /
    updater and guardian, so the daily job can post at once. `max_move_bps` (oracle) and
    `rewards_timelock_s` (distributor; default `default_rewards_timelock_s()`) apply to
    contracts deployed by this call; contracts already in place are left as they are.
    """
    timelock = default_rewards_timelock_s() if rewards_timelock_s is None else rewards_timelock_s
    node_chain_id = int(with_retries(lambda: w3.eth.chain_id, "chain_id"))
    if node_chain_id != chain_id:
        raise ValueError(f"RPC node is on chain {node_chain_id}, expected chain {chain_id}")

    addresses = contract_addresses(registry_dir, chain_id)
    redeployed: set[str] = set()
    for role, name in CONTRACT_ROLES.items():
        recorded = addresses.get(role)
        needed = (
            recorded is None
            or not has_code(w3, recorded)
            or DEPENDS_ON.get(role) in redeployed
            or not _dependency_matches(w3, role, addresses)
        )
        if not needed:
            continue
        args = _constructor_args(role, addresses, max_move_bps, timelock)
        addresses[role] = deploy_contract(w3, deployer, name, *args)
        redeployed.add(role)

    if redeployed:
        write_contract_rows(registry_dir, chain_id, addresses)
    return {role: addresses[role] for role in CONTRACT_ROLES}


def write_contract_rows(registry_dir: Path, chain_id: int, addresses: dict[str, str]) -> None:
    """Replace this chain's contract-role rows of addresses.csv; keep every other line."""
    path = Path(registry_dir) / ADDRESSES_FILE
    read_address_rows(registry_dir)  # validates the existing file before touching it
    kept: list[str] = []
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in lines[1:]:
            record = next(csv.reader([line]), [])
            if (
                len(record) == len(ADDRESSES_HEADER)
                and record[0].strip() == str(chain_id)
                and record[1].strip() in addresses
            ):
                continue
            kept.append(line)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ADDRESSES_HEADER)
    out = buffer.getvalue() + "".join(line + "\n" for line in kept if line.strip())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for role in CONTRACT_ROLES:
        if role in addresses:
            writer.writerow([chain_id, role, addresses[role].lower(), ROLE_LABELS[role]])
    out += buffer.getvalue()

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".addresses.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(out)
    os.replace(tmp, path)
