"""NavOracle: guardrails revert with their reasons; Chainlink views serve the share price."""

from __future__ import annotations

import csv
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from onchain.contracts_client import contract_at
from onchain.deploy import call, deploy_contract
from onchain.signer import Signer, anvil_test_signer
from onchain.transactions import TransactionFailed, send_transaction

pytestmark = pytest.mark.chain

DAY_2026_03_01 = 20513  # 1767225600 s (2026-01-01T00:00Z) / 86400 = 20454, + 31 + 28
HASH = bytes.fromhex("ab" * 32)


def _wei(text: str) -> int:
    return int((Decimal(text) * 10**18).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _nav_row(expected: Path, day: str) -> dict[str, str]:
    with open(expected / "fct_nav_daily.csv", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["day"] == day)


@pytest.fixture()
def oracle(w3: Web3, deployer: Signer) -> Contract:
    contract = contract_at(w3, "NavOracle", deploy_contract(w3, deployer, "NavOracle", 100))
    return contract


def _post(oracle: Contract, deployer: Signer, day: int, price: int = 10**18) -> None:
    oracle.functions.postNav(day, price, 2 * 10**23, 2 * 10**23, HASH).call(
        {"from": deployer.address}
    )


def test_posted_share_price_is_served_as_chainlink_round(
    w3: Web3, deployer: Signer, oracle: Contract, worked_example_expected: Path
) -> None:
    row = _nav_row(worked_example_expected, "2026-03-01")
    price, nav, supply = _wei(row["share_price"]), _wei(row["nav_usd"]), _wei(row["aid_supply"])
    assert price == 1_058541655371304975
    receipt = call(w3, deployer, oracle, "postNav", DAY_2026_03_01, price, nav, supply, HASH)
    posted_at = w3.eth.get_block(receipt["blockNumber"])["timestamp"]

    assert oracle.functions.latestDay().call() == DAY_2026_03_01
    assert oracle.functions.navOf(DAY_2026_03_01).call() == (price, nav, supply, HASH, posted_at)
    expected_round = (DAY_2026_03_01, price, posted_at, posted_at, DAY_2026_03_01)
    assert tuple(oracle.functions.latestRoundData().call()) == expected_round
    assert tuple(oracle.functions.getRoundData(DAY_2026_03_01).call()) == expected_round
    assert oracle.functions.decimals().call() == 18
    assert oracle.functions.version().call() == 2
    assert "share price" in oracle.functions.description().call()

    (event,) = oracle.events.NavPosted().process_receipt(receipt)
    assert event["args"]["day"] == DAY_2026_03_01
    assert event["args"]["sharePrice"] == price
    assert event["args"]["reportHash"] == HASH

    with pytest.raises(ContractLogicError, match="no data"):
        oracle.functions.getRoundData(DAY_2026_03_01 - 1).call()


def test_empty_oracle_has_no_latest_round(oracle: Contract) -> None:
    with pytest.raises(ContractLogicError, match="no data"):
        oracle.functions.latestRoundData().call()


def test_day_must_increase(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    call(w3, deployer, oracle, "postNav", DAY_2026_03_01, 10**18, 1, 1, HASH)
    with pytest.raises(ContractLogicError, match="day not increasing"):
        _post(oracle, deployer, DAY_2026_03_01)
    with pytest.raises(ContractLogicError, match="day not increasing"):
        _post(oracle, deployer, DAY_2026_03_01 - 1)
    # the same revert happens on chain, not only in simulation
    data = oracle.encode_abi("postNav", args=[DAY_2026_03_01, 10**18, 1, 1, HASH])
    with pytest.raises(TransactionFailed, match="reverted"):
        send_transaction(w3, deployer, {"to": oracle.address, "data": data, "gas": 200_000})
    assert oracle.functions.latestDay().call() == DAY_2026_03_01


def test_day_must_have_ended(w3: Web3, deployer: Signer, oracle: Contract) -> None:
    today = w3.eth.get_block("latest")["timestamp"] // 86400
    assert today >= (date(2026, 3, 15) - date(1970, 1, 1)).days
    with pytest.raises(ContractLogicError, match="day not ended"):
        _post(oracle, deployer, today)
    _post(oracle, deployer, today - 1)  # yesterday has ended: accepted


def test_only_the_publisher_posts(oracle: Contract) -> None:
    stranger = anvil_test_signer(3)
    with pytest.raises(ContractLogicError, match="not publisher"):
        _post(oracle, stranger, DAY_2026_03_01)  # type: ignore[arg-type]
    with pytest.raises(ContractLogicError):
        oracle.functions.setPublisher(stranger.address).call({"from": stranger.address})
