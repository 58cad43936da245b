"""Every guardrail of NavOracle and RewardsDistributor reverts with its reason on a real
chain: pause, roles, two-step admin, the share-price move limit and its override, the
rewards timelock and the guardian's revoke."""

from __future__ import annotations

from datetime import date

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from onchain.contracts_client import contract_at
from onchain.deploy import call, deploy_contract
from onchain.merkle import build_tree
from onchain.days import day_number
from publishing.publisher import PublishError, publish_nav, publish_rewards, reason_hash
from onchain.signer import Signer, anvil_test_signer

pytestmark = pytest.mark.chain

D1 = 20513  # 2026-03-01
HASH = bytes.fromhex("ab" * 32)
ONE = 10**18
STRANGER, NEW_ADMIN, GUARDIAN = anvil_test_signer(3), anvil_test_signer(4), anvil_test_signer(6)


def _reverts(fn, sender: Signer, reason: str) -> None:
    with pytest.raises(ContractLogicError, match=reason):
        fn.call({"from": sender.address})


@pytest.fixture()
def oracle(w3: Web3, deployer: Signer) -> Contract:
    return contract_at(w3, "NavOracle", deploy_contract(w3, deployer, "NavOracle", 100))


def _post(w3: Web3, deployer: Signer, oracle: Contract, day: int, price: int) -> None:
    call(w3, deployer, oracle, "postNav", day, price, 1, 1, HASH)


# ------------------------------------------------------------------ NavOracle
def test_deployer_holds_every_oracle_role(oracle: Contract, deployer: Signer) -> None:
    assert oracle.functions.admin().call() == deployer.address
    assert oracle.functions.publisher().call() == deployer.address
    assert oracle.functions.guardian().call() == deployer.address
    assert oracle.functions.maxMoveBps().call() == 100
    assert oracle.functions.paused().call() is False


def test_guardian_pauses_admin_unpauses(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    call(w3, deployer, oracle, "setGuardian", GUARDIAN.address)
    _reverts(oracle.functions.pause(), deployer, "not guardian")  # the admin is not guardian
    receipt = call(w3, GUARDIAN, oracle, "pause")  # type: ignore[arg-type]
    (event,) = oracle.events.Paused().process_receipt(receipt)
    assert event["args"]["by"] == GUARDIAN.address
    _reverts(oracle.functions.postNav(D1, ONE, 1, 1, HASH), deployer, "paused")
    _reverts(oracle.functions.unpause(), GUARDIAN, "not admin")
    call(w3, deployer, oracle, "unpause")
    _post(w3, deployer, oracle, D1, ONE)
    assert oracle.functions.latestDay().call() == D1


def test_roles_are_admin_only(oracle: Contract) -> None:
    for fn in (oracle.functions.setPublisher(STRANGER.address),
               oracle.functions.setGuardian(STRANGER.address),
               oracle.functions.setMaxMoveBps(500),
               oracle.functions.setOverride(D1, 500, HASH),
               oracle.functions.transferAdmin(STRANGER.address)):
        _reverts(fn, STRANGER, "not admin")
    _reverts(oracle.functions.postNav(D1, ONE, 1, 1, HASH), STRANGER, "not publisher")


def test_admin_transfer_takes_two_steps(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    _reverts(oracle.functions.acceptAdmin(), NEW_ADMIN, "no pending admin")
    call(w3, deployer, oracle, "transferAdmin", NEW_ADMIN.address)
    assert oracle.functions.admin().call() == deployer.address  # not yet
    assert oracle.functions.pendingAdmin().call() == NEW_ADMIN.address
    _reverts(oracle.functions.acceptAdmin(), STRANGER, "not pending admin")
    receipt = call(w3, NEW_ADMIN, oracle, "acceptAdmin")  # type: ignore[arg-type]
    (event,) = oracle.events.AdminTransferred().process_receipt(receipt)
    assert (event["args"]["previous"], event["args"]["admin"]) == (deployer.address,
                                                                  NEW_ADMIN.address)
    assert oracle.functions.admin().call() == NEW_ADMIN.address
    _reverts(oracle.functions.setPublisher(STRANGER.address), deployer, "not admin")
    call(w3, NEW_ADMIN, oracle, "setPublisher", STRANGER.address)  # type: ignore[arg-type]
    assert oracle.functions.publisher().call() == STRANGER.address


def test_share_price_move_limit(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    _post(w3, deployer, oracle, D1, ONE)  # the first post has nothing to compare with
    # 100 bps of 1.0 is 0.01: 1.0101 and 0.9899 are beyond, 1.01 and 0.99 are at the limit
    for price in (ONE + ONE // 100 + 10**14, ONE - ONE // 100 - 10**14):
        _reverts(oracle.functions.postNav(D1 + 1, price, 1, 1, HASH), deployer,
                 "share price move too large")
    oracle.functions.postNav(D1 + 1, ONE - ONE // 100, 1, 1, HASH).call({"from": deployer.address})
    _post(w3, deployer, oracle, D1 + 1, ONE + ONE // 100)
    assert oracle.functions.navOf(D1 + 1).call()[0] == 1_010000000000000000
    _reverts(oracle.functions.postNav(D1 + 2, 0, 1, 1, HASH), deployer, "share price zero")


def test_override_lets_one_audited_day_through(w3: Web3, deployer: Signer,
                                               oracle: Contract) -> None:
    _post(w3, deployer, oracle, D1, ONE)
    jump = ONE * 105 // 100  # +5 %
    _reverts(oracle.functions.postNav(D1 + 1, jump, 1, 1, HASH), deployer,
             "share price move too large")
    _reverts(oracle.functions.setOverride(D1 + 1, 600, b"\x00" * 32), deployer,
             "reason required")
    _reverts(oracle.functions.setOverride(D1, 600, HASH), deployer, "day already posted")
    receipt = call(w3, deployer, oracle, "setOverride", D1 + 1, 600, HASH)
    (event,) = oracle.events.OverrideSet().process_receipt(receipt)
    assert (event["args"]["day"], event["args"]["maxMoveBps"], event["args"]["reasonHash"]) == (
        D1 + 1, 600, HASH)
    _post(w3, deployer, oracle, D1 + 1, jump)
    # the override was for that day only: the next day is held to 100 bps again
    _reverts(oracle.functions.postNav(D1 + 2, jump * 103 // 100, 1, 1, HASH), deployer,
             "share price move too large")


def test_publisher_records_the_override_when_given_a_reason(
    w3: Web3, deployer: Signer, oracle: Contract
) -> None:
    day1, day2 = date(2026, 3, 1), date(2026, 3, 2)
    publish_nav(w3, deployer, oracle.address, day1, ONE, ONE, ONE, HASH)
    with pytest.raises(PublishError, match="move too large.*override_reason"):
        publish_nav(w3, deployer, oracle.address, day2, 2 * ONE, ONE, ONE, HASH)
    reason = "2026-03-02: deal GPU-7 repaid early; approved by the risk committee"
    result = publish_nav(w3, deployer, oracle.address, day2, 2 * ONE, ONE, ONE, HASH,
                         override_reason=reason)
    assert result.status == "posted"
    bps, recorded, set_at = oracle.functions.overrideOf(day_number(day2)).call()
    assert (bps, recorded) == (2**256 - 1, reason_hash(reason)) and set_at > 0
    assert tuple(oracle.functions.latestRoundData().call())[1] == 2 * ONE


# ------------------------------------------------------------------ RewardsDistributor
@pytest.fixture()
def gaib(w3: Web3, deployer: Signer) -> Contract:
    return contract_at(w3, "GaibToken", deploy_contract(w3, deployer, "GaibToken"))


def _distributor(w3: Web3, deployer: Signer, gaib: Contract, timelock: int) -> Contract:
    return contract_at(w3, "RewardsDistributor",
                       deploy_contract(w3, deployer, "RewardsDistributor", gaib.address, timelock))


def _advance(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_root_waits_for_its_timelock(w3: Web3, deployer: Signer, gaib: Contract) -> None:
    distributor = _distributor(w3, deployer, gaib, 3600)
    account = anvil_test_signer(5).address
    tree = build_tree([(account, 700)])
    call(w3, deployer, gaib, "mint", distributor.address, 700)
    root = bytes.fromhex(tree.root[2:])
    _reverts(distributor.functions.acceptRoot(), STRANGER, "no pending root")
    _reverts(distributor.functions.proposeRoot(D1, root, 700, HASH), STRANGER, "not updater")
    call(w3, deployer, distributor, "proposeRoot", D1, root, 700, HASH)
    epoch, pending_root, total, _hash, valid_at = distributor.functions.pendingRoot().call()
    assert (epoch, pending_root, total) == (D1, root, 700)
    assert distributor.functions.currentEpoch().call() == 0
    _reverts(distributor.functions.claim(account, 700, []), STRANGER, "no accepted root")
    _reverts(distributor.functions.acceptRoot(), STRANGER, "timelock not passed")
    _reverts(distributor.functions.proposeRoot(D1, root, 700, HASH), deployer,
             "epoch not increasing")

    _advance(w3, 3600)
    receipt = call(w3, STRANGER, distributor, "acceptRoot")  # anyone  # type: ignore[arg-type]
    (event,) = distributor.events.RootAccepted().process_receipt(receipt)
    assert event["args"]["epoch"] == D1
    assert distributor.functions.currentRoot().call() == root
    assert distributor.functions.epochOf(D1).call()[4] == valid_at
    call(w3, STRANGER, distributor, "claim", account, 700, [])  # type: ignore[arg-type]
    assert gaib.functions.balanceOf(account).call() == 700


def test_guardian_revokes_a_pending_root(w3: Web3, deployer: Signer, gaib: Contract) -> None:
    distributor = _distributor(w3, deployer, gaib, 3600)
    call(w3, deployer, distributor, "setGuardian", GUARDIAN.address)
    bad, good = b"\xbb" * 32, b"\x99" * 32
    call(w3, deployer, distributor, "proposeRoot", D1, bad, 5, HASH)
    _reverts(distributor.functions.revokePendingRoot(), STRANGER, "not guardian")
    receipt = call(w3, GUARDIAN, distributor, "revokePendingRoot")  # type: ignore[arg-type]
    (event,) = distributor.events.RootRevoked().process_receipt(receipt)
    assert (event["args"]["epoch"], event["args"]["root"]) == (D1, bad)
    assert distributor.functions.epochOf(D1).call()[6] is True  # revoked
    _advance(w3, 3600)
    _reverts(distributor.functions.acceptRoot(), STRANGER, "no pending root")
    assert distributor.functions.currentEpoch().call() == 0

    # the publisher refuses to propose the revoked root again; a corrected one goes through
    with pytest.raises(PublishError, match="revoked by the guardian"):
        publish_rewards(w3, deployer, distributor.address, D1, "0x" + bad.hex(), 5, HASH)
    result = publish_rewards(w3, deployer, distributor.address, D1, "0x" + good.hex(), 5, HASH)
    assert result.status == "posted" and result.pending_until is not None


def test_distributor_pause_roles_and_admin(w3: Web3, deployer: Signer, gaib: Contract) -> None:
    distributor = _distributor(w3, deployer, gaib, 0)
    for fn in (distributor.functions.setUpdater(STRANGER.address),
               distributor.functions.setGuardian(STRANGER.address),
               distributor.functions.setTimelock(60),
               distributor.functions.unpause(),
               distributor.functions.transferAdmin(STRANGER.address)):
        _reverts(fn, STRANGER, "not admin")
    _reverts(distributor.functions.setTimelock(31 * 86400), deployer, "timelock too long")
    _reverts(distributor.functions.pause(), STRANGER, "not guardian")
    call(w3, deployer, distributor, "pause")
    _reverts(distributor.functions.proposeRoot(D1, HASH, 1, HASH), deployer, "paused")
    _reverts(distributor.functions.claim(STRANGER.address, 1, []), STRANGER, "paused")
    call(w3, deployer, distributor, "unpause")

    call(w3, deployer, distributor, "transferAdmin", NEW_ADMIN.address)
    _reverts(distributor.functions.acceptAdmin(), STRANGER, "not pending admin")
    call(w3, NEW_ADMIN, distributor, "acceptAdmin")  # type: ignore[arg-type]
    _reverts(distributor.functions.setTimelock(60), deployer, "not admin")
    receipt = call(w3, NEW_ADMIN, distributor, "setTimelock", 60)  # type: ignore[arg-type]
    (event,) = distributor.events.TimelockSet().process_receipt(receipt, errors=DISCARD)
    assert (event["args"]["previous"], event["args"]["timelock"]) == (0, 60)


def test_daily_publication_accepts_yesterdays_root(
    w3: Web3, deployer: Signer, gaib: Contract
) -> None:
    distributor = _distributor(w3, deployer, gaib, 3600)
    first = publish_rewards(w3, deployer, distributor.address, D1, "0x" + "01" * 32, 1, HASH)
    assert first.status == "posted" and first.accepted_epoch == 0
    assert first.pending_until is not None
    again = publish_rewards(w3, deployer, distributor.address, D1, "0x" + "01" * 32, 1, HASH)
    assert again.status == "already_posted" and again.accepted_epoch == 0  # still locked

    _advance(w3, 3600)  # the next day's run: D1 is accepted, then D1 + 1 proposed
    second = publish_rewards(w3, deployer, distributor.address, D1 + 1, "0x" + "02" * 32, 2,
                             HASH)
    assert second.status == "posted" and second.accepted_epoch == D1
    assert distributor.functions.currentRoot().call() == b"\x01" * 32
    assert distributor.functions.pendingRoot().call()[0] == D1 + 1
