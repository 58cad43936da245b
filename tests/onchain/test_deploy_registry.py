"""ensure_deployed deploys once, records addresses.csv, and then sends nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from onchain.contracts_client import contract_for_role
from onchain.deploy import ensure_deployed
from onchain.signer import Signer

pytestmark = pytest.mark.chain

ROLES = ["usdc", "aid", "said", "gaib", "nav_oracle", "rewards_distributor"]
OTHER_ROWS = (
    "31337,treasury,0x1111111111111111111111111111111111111111,Treasury multisig\n"
    '1,usdc,0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48,"USDC, mainnet"\n'
    "31337,excluded,0x2222222222222222222222222222222222222222,Burn sink\n"
)
# an address on this chain with no code: the recorded nav_oracle must be redeployed
STALE = "31337,nav_oracle,0x3333333333333333333333333333333333333333,old oracle\n"


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


def test_deploy_then_idempotent(w3: Web3, deployer: Signer, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "addresses.csv").write_text("chain_id,role,address,label\n" + OTHER_ROWS + STALE)

    addresses = ensure_deployed(w3, deployer, registry, 31337)
    assert list(addresses) == ROLES
    assert all(a == a.lower() and a.startswith("0x") and len(a) == 42 for a in addresses.values())
    assert addresses["nav_oracle"] != "0x3333333333333333333333333333333333333333"

    text = (registry / "addresses.csv").read_text()
    assert text.startswith("chain_id,role,address,label\n")
    for line in OTHER_ROWS.splitlines():
        assert line in text.splitlines()  # other rows untouched, byte for byte
    assert STALE.strip() not in text
    recorded = {r[1]: r[2] for r in _rows(registry / "addresses.csv") if r[0] == "31337"}
    for role in ROLES:
        assert recorded[role] == addresses[role]

    # wiring: the vault wraps AID, the distributor pays GAIB, the deployer may post
    said = contract_for_role(w3, registry, "said")
    assert said.functions.asset().call().lower() == addresses["aid"]
    assert said.functions.decimals().call() == 18
    assert contract_for_role(w3, registry, "usdc").functions.decimals().call() == 6
    assert contract_for_role(w3, registry, "usdc").functions.symbol().call() == "USDC"
    distributor = contract_for_role(w3, registry, "rewards_distributor")
    assert distributor.functions.token().call().lower() == addresses["gaib"]
    assert distributor.functions.updater().call() == deployer.address
    oracle = contract_for_role(w3, registry, "nav_oracle")
    assert oracle.functions.publisher().call() == deployer.address

    block = w3.eth.block_number
    nonce = w3.eth.get_transaction_count(deployer.address)
    before = (registry / "addresses.csv").read_bytes()
    assert ensure_deployed(w3, deployer, registry, 31337) == addresses
    assert w3.eth.block_number == block
    assert w3.eth.get_transaction_count(deployer.address) == nonce
    assert (registry / "addresses.csv").read_bytes() == before


def test_redeploys_vault_when_aid_is_gone(w3: Web3, deployer: Signer, tmp_path: Path) -> None:
    first = ensure_deployed(w3, deployer, tmp_path, 31337)
    rows = (tmp_path / "addresses.csv").read_text().replace(
        first["aid"], "0x4444444444444444444444444444444444444444"
    )
    (tmp_path / "addresses.csv").write_text(rows)
    second = ensure_deployed(w3, deployer, tmp_path, 31337)
    assert second["aid"] != first["aid"] and second["said"] != first["said"]
    for role in ("usdc", "gaib", "nav_oracle", "rewards_distributor"):
        assert second[role] == first[role]
    said = contract_for_role(w3, tmp_path, "said")
    assert said.functions.asset().call().lower() == second["aid"]


def test_wrong_chain_id_is_refused(w3: Web3, deployer: Signer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chain 31337, expected chain 1"):
        ensure_deployed(w3, deployer, tmp_path, 1)
