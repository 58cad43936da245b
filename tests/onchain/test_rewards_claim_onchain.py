"""Proofs from onchain.merkle are accepted by RewardsDistributor.claim on a real chain."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from onchain.contracts_client import contract_at
from onchain.deploy import call, deploy_contract
from onchain.merkle import build_tree
from onchain.signer import Signer, anvil_test_signer

pytestmark = pytest.mark.chain

LAST_DAY = "2026-03-05"


@pytest.fixture()
def gaib_and_distributor(w3: Web3, deployer: Signer) -> tuple[Contract, Contract]:
    gaib = contract_at(w3, "GaibToken", deploy_contract(w3, deployer, "GaibToken"))
    distributor = contract_at(
        w3, "RewardsDistributor", deploy_contract(w3, deployer, "RewardsDistributor", gaib.address, 0)
    )
    return gaib, distributor


def _day_rows(expected: Path, day: str) -> list[tuple[str, int]]:
    with open(expected / "fct_staker_rewards_daily.csv", newline="") as fh:
        return [(r["account"], int(r["cumulative_wei"])) for r in csv.DictReader(fh)
                if r["day"] == day and int(r["cumulative_wei"]) > 0]


def _root_of(expected: Path, day: str) -> tuple[str, int]:
    with open(expected / "rewards_roots.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["day"] == day)
    return row["root"], int(row["total_cumulative_wei"])


def test_claims_pay_cumulative_once(
    w3: Web3, deployer: Signer, gaib_and_distributor: tuple[Contract, Contract],
    worked_example_expected: Path,
) -> None:
    gaib, distributor = gaib_and_distributor
    entries = _day_rows(worked_example_expected, LAST_DAY)
    expected_root, total = _root_of(worked_example_expected, LAST_DAY)
    assert len(entries) == 4
    tree = build_tree(entries)
    assert tree.root == expected_root

    epoch = 20517  # 2026-03-05: 20454 (2026-01-01) + 31 + 28 + 4
    call(w3, deployer, gaib, "mint", distributor.address, total)
    call(w3, deployer, distributor, "proposeRoot", epoch, bytes.fromhex(expected_root[2:]), total,
         b"\x01" * 32)
    assert distributor.functions.currentEpoch().call() == epoch
    assert distributor.functions.currentRoot().call() == bytes.fromhex(expected_root[2:])

    claimer = anvil_test_signer(2)  # anyone may submit a claim; the account is paid
    for account, cumulative in entries:
        proof = [bytes.fromhex(p[2:]) for p in tree.proof(account)]
        receipt = call(w3, claimer, distributor, "claim",  # type: ignore[arg-type]
                       Web3.to_checksum_address(account), cumulative, proof)
        (event,) = distributor.events.Claimed().process_receipt(receipt, errors=DISCARD)
        assert event["args"]["amount"] == cumulative
        assert gaib.functions.balanceOf(Web3.to_checksum_address(account)).call() == cumulative
        assert distributor.functions.claimed(Web3.to_checksum_address(account)).call() == cumulative

        # a second claim with the same proof pays nothing
        call(w3, claimer, distributor, "claim",  # type: ignore[arg-type]
             Web3.to_checksum_address(account), cumulative, proof)
        assert gaib.functions.balanceOf(Web3.to_checksum_address(account)).call() == cumulative
    # the worked example's dust stays with the distributor: total minted - sum paid
    assert gaib.functions.balanceOf(distributor.address).call() == total - sum(c for _, c in entries)


def test_forged_proof_reverts(
    w3: Web3, deployer: Signer, gaib_and_distributor: tuple[Contract, Contract],
    worked_example_expected: Path,
) -> None:
    gaib, distributor = gaib_and_distributor
    entries = _day_rows(worked_example_expected, LAST_DAY)
    tree = build_tree(entries)
    call(w3, deployer, gaib, "mint", distributor.address, 10**30)
    call(w3, deployer, distributor, "proposeRoot", 1, bytes.fromhex(tree.root[2:]), tree.total,
         b"\x02" * 32)
    account, cumulative = entries[0]
    proof = [bytes.fromhex(p[2:]) for p in tree.proof(account)]
    checksummed = Web3.to_checksum_address(account)
    with pytest.raises(ContractLogicError, match="invalid proof"):
        distributor.functions.claim(checksummed, cumulative + 1, proof).call()
    other = Web3.to_checksum_address(entries[1][0])
    with pytest.raises(ContractLogicError, match="invalid proof"):
        distributor.functions.claim(other, cumulative, proof).call()


def test_claim_never_pays_more_than_held(
    w3: Web3, deployer: Signer, gaib_and_distributor: tuple[Contract, Contract]
) -> None:
    gaib, distributor = gaib_and_distributor
    account = anvil_test_signer(5).address
    tree = build_tree([(account, 1000)])
    call(w3, deployer, gaib, "mint", distributor.address, 600)
    call(w3, deployer, distributor, "proposeRoot", 7, bytes.fromhex(tree.root[2:]), 1000, b"\x03" * 32)
    call(w3, deployer, distributor, "claim", account, 1000, [])
    assert gaib.functions.balanceOf(account).call() == 600
    call(w3, deployer, gaib, "mint", distributor.address, 1000)
    call(w3, deployer, distributor, "claim", account, 1000, [])
    assert gaib.functions.balanceOf(account).call() == 1000
    assert distributor.functions.claimed(account).call() == 1000


def test_epoch_must_increase_and_only_updater_posts(
    w3: Web3, deployer: Signer, gaib_and_distributor: tuple[Contract, Contract]
) -> None:
    _, distributor = gaib_and_distributor
    call(w3, deployer, distributor, "proposeRoot", 10, b"\x00" * 32, 0, b"\x00" * 32)
    with pytest.raises(ContractLogicError, match="epoch not increasing"):
        distributor.functions.proposeRoot(10, b"\x01" * 32, 0, b"\x00" * 32).call(
            {"from": deployer.address})
    with pytest.raises(ContractLogicError, match="not updater"):
        distributor.functions.proposeRoot(11, b"\x01" * 32, 0, b"\x00" * 32).call(
            {"from": anvil_test_signer(4).address})
