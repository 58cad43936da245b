"""Contract addresses from `registry/addresses.csv` and web3 contract objects by role.

`addresses.csv` has the header `chain_id,role,address,label`. The contract roles are
unique per chain; other roles (treasury, collection, excluded, ...) may repeat.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from onchain.build import load_artifact

ADDRESSES_FILE = "addresses.csv"
ADDRESSES_HEADER: tuple[str, ...] = ("chain_id", "role", "address", "label")

# role -> contract (artifact) name, in deployment order
CONTRACT_ROLES: dict[str, str] = {
    "usdc": "MockUSDC",
    "aid": "AidToken",
    "said": "StakedAid",
    "gaib": "GaibToken",
    "nav_oracle": "NavOracle",
    "rewards_distributor": "RewardsDistributor",
}


class AddressRegistryError(ValueError):
    """addresses.csv is malformed or lacks a role."""


@dataclass(frozen=True)
class AddressRow:
    chain_id: int
    role: str
    address: str
    label: str
    line: int


def read_address_rows(registry_dir: Path) -> list[AddressRow]:
    """Every row of `addresses.csv` (an absent file has none)."""
    path = Path(registry_dir) / ADDRESSES_FILE
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    if tuple(h.strip() for h in header) != ADDRESSES_HEADER:
        raise AddressRegistryError(
            f"{path} line 1: header {','.join(header)!r}, expected {','.join(ADDRESSES_HEADER)!r}"
        )
    rows: list[AddressRow] = []
    for line_no, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(ADDRESSES_HEADER):
            raise AddressRegistryError(
                f"{path} line {line_no}: {len(record)} fields, expected {len(ADDRESSES_HEADER)}"
            )
        chain_id, role, address, label = (cell.strip() for cell in record)
        try:
            chain = int(chain_id)
        except ValueError:
            raise AddressRegistryError(
                f"{path} line {line_no} field chain_id: {chain_id!r} is not an integer"
            ) from None
        if not Web3.is_address(address):
            raise AddressRegistryError(
                f"{path} line {line_no} field address: {address!r} is not a 20-byte hex address"
            )
        rows.append(AddressRow(chain, role, address.lower(), label, line_no))
    return rows


def contract_addresses(registry_dir: Path, chain_id: int) -> dict[str, str]:
    """role -> lower-case address of the contract roles recorded for `chain_id`."""
    return {
        row.role: row.address
        for row in read_address_rows(registry_dir)
        if row.chain_id == chain_id and row.role in CONTRACT_ROLES
    }


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for contract `name` (artifact name) at `address`."""
    return w3.eth.contract(
        address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"]
    )


def contract_for_role(
    w3: Web3, registry_dir: Path, role: str, chain_id: int | None = None
) -> Contract:
    """The contract recorded for `role` on `chain_id` (default: the node's chain id)."""
    if role not in CONTRACT_ROLES:
        raise AddressRegistryError(
            f"role {role!r} is not a contract role; expected one of {', '.join(CONTRACT_ROLES)}"
        )
    chain = int(w3.eth.chain_id) if chain_id is None else chain_id
    addresses = contract_addresses(registry_dir, chain)
    if role not in addresses:
        raise AddressRegistryError(
            f"{Path(registry_dir) / ADDRESSES_FILE}: no row for chain_id {chain} role {role!r}; "
            "deploy the contracts first (onchain.deploy.ensure_deployed)"
        )
    return contract_at(w3, CONTRACT_ROLES[role], addresses[role])
