"""The admin, guardian and pause rules that NavOracle and RewardsDistributor share hold
the same way on both, on a real chain: a pending admin has no rights until it accepts,
the zero address cancels a transfer, pause and unpause refuse to repeat themselves,
every state-changing entry point refuses while paused, and a deployment announces its
roles in one fixed order."""

from __future__ import annotations

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from onchain.contracts_client import contract_at
from onchain.deploy import call, deploy_contract
from onchain.merkle import build_tree
from onchain.signer import Signer, anvil_test_signer

pytestmark = pytest.mark.chain

D1 = 20513  # 2026-03-01
HASH = bytes.fromhex("cd" * 32)
ONE = 10**18
ZERO = "0x" + "00" * 20
STRANGER, NEW_ADMIN, GUARDIAN = anvil_test_signer(3), anvil_test_signer(4), anvil_test_signer(6)
TIMELOCK_S = 3600


def _reverts(fn, sender: Signer, reason: str) -> None:
    with pytest.raises(ContractLogicError, match=reason):
        fn.call({"from": sender.address})


def _deploy(w3: Web3, deployer: Signer, name: str) -> Contract:
    if name == "NavOracle":
        return contract_at(w3, name, deploy_contract(w3, deployer, name, 100))
    gaib = deploy_contract(w3, deployer, "GaibToken")
    return contract_at(w3, name, deploy_contract(w3, deployer, name,
                                                 Web3.to_checksum_address(gaib), TIMELOCK_S))


@pytest.fixture(params=["NavOracle", "RewardsDistributor"])
def contract(request: pytest.FixtureRequest, w3: Web3, deployer: Signer) -> Contract:
    return _deploy(w3, deployer, request.param)


def test_pending_admin_has_no_rights_until_it_accepts(
    w3: Web3, deployer: Signer, contract: Contract
) -> None:
    fns = contract.functions
    call(w3, deployer, contract, "transferAdmin", NEW_ADMIN.address)
    # named but not yet admin: every admin-only entry point still refuses it
    _reverts(fns.setGuardian(NEW_ADMIN.address), NEW_ADMIN, "not admin")
    _reverts(fns.transferAdmin(STRANGER.address), NEW_ADMIN, "not admin")
    _reverts(fns.unpause(), NEW_ADMIN, "not admin")

    # the zero address cancels the pending transfer
    call(w3, deployer, contract, "transferAdmin", ZERO)
    assert fns.pendingAdmin().call() == ZERO
    _reverts(fns.acceptAdmin(), NEW_ADMIN, "no pending admin")

    call(w3, deployer, contract, "transferAdmin", NEW_ADMIN.address)
    receipt = call(w3, NEW_ADMIN, contract, "acceptAdmin")  # type: ignore[arg-type]
    (event,) = contract.events.AdminTransferred().process_receipt(receipt)
    assert (event["args"]["previous"], event["args"]["admin"]) == (deployer.address,
                                                                  NEW_ADMIN.address)
    assert (fns.admin().call(), fns.pendingAdmin().call()) == (NEW_ADMIN.address, ZERO)
    _reverts(fns.acceptAdmin(), NEW_ADMIN, "no pending admin")  # accepted once only
    _reverts(fns.setGuardian(STRANGER.address), deployer, "not admin")  # the old admin lost it
    call(w3, NEW_ADMIN, contract, "setGuardian", GUARDIAN.address)  # type: ignore[arg-type]
    assert fns.guardian().call() == GUARDIAN.address


def _advance(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _paused_entry_points(w3: Web3, deployer: Signer, contract: Contract) -> list:
    """Every state-changing entry point of the contract's own work, each valid but for the
    pause: the distributor gets an accepted root that pays STRANGER and a later root
    pending past its timelock, so `proposeRoot`, `acceptRoot` and `claim` would all pass."""
    fns = contract.functions
    if "postNav" in {f["name"] for f in contract.abi if f["type"] == "function"}:
        return [fns.postNav(D1, ONE, 1, 1, HASH)]
    tree = build_tree([(STRANGER.address, 1)])
    call(w3, deployer, contract, "proposeRoot", D1, bytes.fromhex(tree.root[2:]), 1, HASH)
    _advance(w3, TIMELOCK_S)
    call(w3, deployer, contract, "acceptRoot")
    call(w3, deployer, contract, "proposeRoot", D1 + 1, HASH, 1, HASH)
    _advance(w3, TIMELOCK_S)
    proof = [bytes.fromhex(node[2:]) for node in tree.proof(STRANGER.address)]
    return [fns.proposeRoot(D1 + 2, HASH, 1, HASH), fns.acceptRoot(),
            fns.claim(STRANGER.address, 1, proof)]


def test_pause_is_the_guardians_and_unpause_the_admins(
    w3: Web3, deployer: Signer, contract: Contract
) -> None:
    fns = contract.functions
    guarded = _paused_entry_points(w3, deployer, contract)
    _reverts(fns.unpause(), deployer, "not paused")
    call(w3, deployer, contract, "setGuardian", GUARDIAN.address)
    _reverts(fns.pause(), deployer, "not guardian")  # the admin is not the guardian
    receipt = call(w3, GUARDIAN, contract, "pause")  # type: ignore[arg-type]
    (event,) = contract.events.Paused().process_receipt(receipt)
    assert event["args"]["by"] == GUARDIAN.address
    assert fns.paused().call() is True
    _reverts(fns.pause(), GUARDIAN, "already paused")
    for fn in guarded:
        _reverts(fn, deployer, "paused")
    _reverts(fns.unpause(), GUARDIAN, "not admin")
    receipt = call(w3, deployer, contract, "unpause")
    (event,) = contract.events.Unpaused().process_receipt(receipt)
    assert event["args"]["by"] == deployer.address
    assert fns.paused().call() is False
    for fn in guarded:
        fn.call({"from": deployer.address})  # each would go through again


@pytest.mark.parametrize("name, work_role", [("NavOracle", "PublisherSet"),
                                              ("RewardsDistributor", "UpdaterSet")])
def test_deployment_announces_its_roles_in_order(
    w3: Web3, deployer: Signer, name: str, work_role: str
) -> None:
    contract = _deploy(w3, deployer, name)
    by_topic = {
        "0x" + Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})").hex():
        e["name"] for e in contract.abi if e["type"] == "event"
    }
    logs = w3.eth.get_logs({"address": contract.address, "fromBlock": 0})
    names = [by_topic["0x" + bytes(entry["topics"][0]).hex()] for entry in logs]
    limit = "MaxMoveBpsSet" if name == "NavOracle" else "TimelockSet"
    assert names == ["AdminTransferred", work_role, "GuardianSet", limit]
    roles = contract.events.AdminTransferred().process_log(logs[0])["args"]
    assert (roles["previous"], roles["admin"]) == (ZERO, deployer.address)
