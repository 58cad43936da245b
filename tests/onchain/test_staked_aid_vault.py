"""sAID: one sAID per AID at the first deposit; the share price rises with yield."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from onchain.contracts_client import contract_for_role
from onchain.deploy import call
from onchain.signer import Signer, anvil_test_signer

pytestmark = pytest.mark.chain

AID = 10**18


def test_first_deposit_is_one_to_one_then_yield_raises_the_price(
    w3: Web3, deployer: Signer, deployed: dict[str, str], registry_dir: Path
) -> None:
    aid = contract_for_role(w3, registry_dir, "aid")
    said = contract_for_role(w3, registry_dir, "said")
    staker = anvil_test_signer(6)
    assert said.functions.totalSupply().call() == 0  # fresh vault of this session

    call(w3, deployer, aid, "mint", staker.address, 1000 * AID)
    call(w3, staker, aid, "approve", said.address, 1000 * AID)  # type: ignore[arg-type]
    call(w3, staker, said, "deposit", 1000 * AID, staker.address)  # type: ignore[arg-type]
    assert said.functions.balanceOf(staker.address).call() == 1000 * AID
    assert said.functions.totalAssets().call() == 1000 * AID
    assert said.functions.convertToAssets(AID).call() == AID

    # 50 AID of yield into the vault: 1 sAID is now worth 1.05 AID (less the virtual
    # share's cut of 1 wei of the offset-0 vault: floor(1e18 * 1050e18+1 / (1000e18+1)))
    call(w3, deployer, aid, "mint", said.address, 50 * AID)
    expected = (AID * (1050 * AID + 1)) // (1000 * AID + 1)
    assert said.functions.convertToAssets(AID).call() == expected
    assert 1_049_999_999_999_999_999 <= expected <= 1_050 * 10**15

    call(w3, staker, said, "redeem", 1000 * AID, staker.address,  # type: ignore[arg-type]
         staker.address)
    assert said.functions.balanceOf(staker.address).call() == 0
    assert aid.functions.balanceOf(staker.address).call() == (1000 * AID * (1050 * AID + 1)) // (
        1000 * AID + 1
    )
