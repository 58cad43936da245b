"""publish_nav / publish_rewards: post once, never twice, never out of order."""

from __future__ import annotations

from datetime import date

import pytest
from web3 import Web3
from web3.contract import Contract

from onchain.contracts_client import contract_at
from onchain.deploy import deploy_contract
from onchain.days import day_number
from publishing.publisher import PublishError, publish_nav, publish_rewards
from onchain.signer import Signer

pytestmark = pytest.mark.chain

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
# fct_nav_daily.csv of the worked example, 2026-03-01 and 2026-03-02, in wei (18 decimals)
PRICE_1, NAV_1, SUPPLY = 1_058541655371304975, 200601_457260273972602740, 195800 * 10**18
PRICE_2, NAV_2 = 1_059842441312184571, 200725_031924657534246575
HASH_1, HASH_2 = bytes.fromhex("11" * 32), bytes.fromhex("22" * 32)


@pytest.fixture()
def oracle(w3: Web3, deployer: Signer) -> Contract:
    contract = contract_at(w3, "NavOracle", deploy_contract(w3, deployer, "NavOracle", 100))
    return contract


@pytest.fixture()
def distributor(w3: Web3, deployer: Signer) -> Contract:
    gaib = Web3.to_checksum_address(deploy_contract(w3, deployer, "GaibToken"))
    contract = contract_at(w3, "RewardsDistributor",
                           deploy_contract(w3, deployer, "RewardsDistributor", gaib, 0))
    return contract


def _nonce(w3: Web3, signer: Signer) -> int:
    return w3.eth.get_transaction_count(signer.address)


def test_day_number_is_days_since_1970() -> None:
    assert day_number(date(1970, 1, 2)) == 1
    assert day_number(D1) == 20513


def test_nav_posted_once_then_already_posted(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    first = publish_nav(w3, deployer, oracle.address, D1, PRICE_1, NAV_1, SUPPLY, HASH_1)
    assert first.status == "posted" and first.kind == "nav" and first.day == D1
    assert first.tx_hash is not None and first.tx_hash.startswith("0x")
    receipt = w3.eth.get_transaction_receipt(first.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1 and receipt["blockNumber"] == first.block_number
    assert w3.eth.get_transaction(first.tx_hash)["type"] == 2  # EIP-1559  # type: ignore[arg-type]
    assert first.report_hash == "0x" + "11" * 32
    assert tuple(oracle.functions.latestRoundData().call())[:2] == (20513, PRICE_1)

    nonce, block = _nonce(w3, deployer), w3.eth.block_number
    again = publish_nav(w3, deployer, oracle.address, D1, PRICE_1, NAV_1, SUPPLY, HASH_1)
    assert again.status == "already_posted"
    assert (again.tx_hash, again.block_number) == (first.tx_hash, first.block_number)
    assert (_nonce(w3, deployer), w3.eth.block_number) == (nonce, block)


def test_different_figures_are_a_restatement(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    publish_nav(w3, deployer, oracle.address, D1, PRICE_1, NAV_1, SUPPLY, HASH_1)
    nonce = _nonce(w3, deployer)
    restated = publish_nav(w3, deployer, oracle.address, D1, PRICE_1 + 1, NAV_1, SUPPLY, HASH_2)
    assert restated.status == "restatement"
    assert restated.onchain_report_hash == "0x" + "11" * 32
    assert restated.report_hash == "0x" + "22" * 32
    assert str(PRICE_1) in restated.detail and str(PRICE_1 + 1) in restated.detail
    assert _nonce(w3, deployer) == nonce
    assert oracle.functions.navOf(20513).call()[0] == PRICE_1  # never overwritten


def test_never_posts_out_of_order(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    assert publish_nav(w3, deployer, oracle.address, D2, PRICE_2, NAV_2, SUPPLY,
                       HASH_2).status == "posted"
    nonce = _nonce(w3, deployer)
    late = publish_nav(w3, deployer, oracle.address, D1, PRICE_1, NAV_1, SUPPLY, HASH_1)
    assert late.status == "skipped_past_day" and late.tx_hash is None
    assert _nonce(w3, deployer) == nonce


def test_dry_run_sends_nothing(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    nonce = _nonce(w3, deployer)
    result = publish_nav(w3, deployer, oracle.address, D3, PRICE_2, NAV_2, SUPPLY, HASH_1,
                         dry_run=True)
    assert result.status == "dry_run" and result.tx_hash is None
    assert _nonce(w3, deployer) == nonce
    assert oracle.functions.latestDay().call() == 0


def test_unended_day_is_refused_before_sending(
    w3: Web3, deployer: Signer, oracle: Contract
) -> None:
    today = date.fromordinal(
        date(1970, 1, 1).toordinal() + w3.eth.get_block("latest")["timestamp"] // 86400
    )
    nonce = _nonce(w3, deployer)
    with pytest.raises(PublishError, match="has not ended"):
        publish_nav(w3, deployer, oracle.address, today, PRICE_1, NAV_1, SUPPLY, HASH_1)
    assert _nonce(w3, deployer) == nonce


def test_intent_hook_sees_the_hash_before_the_send(
    w3: Web3, deployer: Signer, oracle: Contract
) -> None:
    seen: list[tuple[str, int]] = []

    def on_signed(tx_hash: str, tx: dict) -> None:
        seen.append((tx_hash, w3.eth.get_transaction_count(deployer.address)))

    nonce = _nonce(w3, deployer)
    result = publish_nav(w3, deployer, oracle.address, D1, PRICE_1, NAV_1, SUPPLY, HASH_1,
                         on_signed=on_signed)
    assert seen == [(result.tx_hash, nonce)]  # recorded while the nonce was still unused


def test_rewards_root_posted_once(w3: Web3, deployer: Signer, distributor: Contract) -> None:
    root = "0x" + "ab" * 32
    epoch = day_number(D1)
    first = publish_rewards(w3, deployer, distributor.address, epoch, root, 10**22, HASH_1)
    assert first.status == "posted" and first.kind == "rewards" and first.day == D1
    assert distributor.functions.currentRoot().call() == bytes.fromhex("ab" * 32)

    nonce = _nonce(w3, deployer)
    again = publish_rewards(w3, deployer, distributor.address, epoch, root, 10**22, HASH_1)
    assert again.status == "already_posted" and again.tx_hash == first.tx_hash
    restated = publish_rewards(w3, deployer, distributor.address, epoch, root, 10**22 + 1, HASH_2)
    assert restated.status == "restatement"
    older = publish_rewards(w3, deployer, distributor.address, epoch - 1, root, 1, HASH_2)
    assert older.status == "skipped_past_day"
    assert _nonce(w3, deployer) == nonce


def test_empty_root_can_be_posted(w3: Web3, deployer: Signer, distributor: Contract) -> None:
    # 2026-01-25 of the worked example: nobody staked yet, root is 0x00..00, total 0
    zero = "0x" + "0" * 64
    result = publish_rewards(w3, deployer, distributor.address, day_number(date(2026, 1, 25)),
                             zero, 0, HASH_1)
    assert result.status == "posted"
    again = publish_rewards(w3, deployer, distributor.address, day_number(date(2026, 1, 25)),
                            zero, 0, HASH_1)
    assert again.status == "already_posted"
