"""drive_chain on a real local anvil: the scenario lands on the right days, and a second call
sends no transaction (block numbers unchanged)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from web3 import Web3

from demo import drive_chain, generate_offchain, genesis_timestamp
from demo.chain_plan import build_plan
from demo.keys import derive_test_key
from onchain.deploy import ensure_deployed
from onchain.signer import anvil_test_signer
from onchain.testing import local_anvil

pytestmark = pytest.mark.chain

END_DAY = date(2026, 3, 4)
DAYS = 5
CHAIN_ID = 31337


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("demo-chain")
    book = generate_offchain(data, END_DAY, days=DAYS, progress=False, scale=0.1, n_holders=5)
    with local_anvil(tmp_path_factory.mktemp("anvil"), timestamp=genesis_timestamp(book.first_day)) as (url, _):
        w3 = Web3(Web3.HTTPProvider(url))
        addresses = ensure_deployed(w3, anvil_test_signer(0), data / "registry", CHAIN_ID)
        first = drive_chain(w3, data, book, addresses, progress=False)
        block_after_first = w3.eth.block_number
        second = drive_chain(w3, data, book, addresses, progress=False)
        yield w3, book, addresses, first, second, block_after_first


def test_second_call_sends_no_transaction(played) -> None:
    w3, _book, _addresses, first, second, block_after_first = played
    assert first.transactions_sent > 20
    assert second.transactions_sent == 0
    assert second.steps_already_on_chain == first.steps_planned
    assert w3.eth.block_number == block_after_first


def test_every_demo_day_has_ended_on_chain(played) -> None:
    w3, book, _a, _f, _s, _b = played
    end_of_last_day = datetime(2026, 3, 5, tzinfo=timezone.utc).timestamp()
    assert w3.eth.get_block("latest")["timestamp"] > end_of_last_day


def test_deals_funded_on_their_funded_date(played) -> None:
    """The treasury's USDC transfer to each provider sits in a block of the deal's funded_date."""
    w3, book, addresses, _f, _s, _b = played
    usdc = w3.eth.contract(address=Web3.to_checksum_address(addresses["usdc"]), abi=_TRANSFER_ABI)
    treasury = derive_test_key("treasury").address
    logs = usdc.events.Transfer().get_logs(from_block=0, argument_filters={"sender": treasury})
    funded: set[tuple[str, int, date]] = set()
    for ev in logs:
        ts = w3.eth.get_block(ev["blockNumber"])["timestamp"]
        funded.add((ev["args"]["receiver"].lower(), ev["args"]["value"],
                    datetime.fromtimestamp(ts, timezone.utc).date()))
    for deal in book.deals:
        expected = (deal.provider_address.lower(), int(deal.principal_usd) * 10**6, deal.funded_date)
        assert expected in funded, deal.deal_id


def test_token_balances_follow_the_plan(played) -> None:
    """AID supply = deposits + yield minted - AID burned; the treasury holds deposits less
    every planned outflow (fundings, fees, T-bill buffer, redemption payouts)."""
    w3, book, addresses, first, _s, _b = played
    plan = build_plan(book)
    burned = sum(s.amount for s in plan.steps if s.action == "aid_burn")
    outflows = sum(s.amount for s in plan.steps if s.sender == "treasury" and s.action == "usdc_transfer")
    assert burned > 0 and outflows > first.principal_usdc * 10**6  # the window has a redemption and fees
    aid = w3.eth.contract(address=Web3.to_checksum_address(addresses["aid"]), abi=_TRANSFER_ABI)
    assert aid.functions.totalSupply().call() == (first.deposits_usdc + first.yield_minted_aid) * 10**18 - burned
    usdc = w3.eth.contract(address=Web3.to_checksum_address(addresses["usdc"]), abi=_TRANSFER_ABI)
    treasury_balance = usdc.functions.balanceOf(derive_test_key("treasury").address).call()
    assert treasury_balance == first.deposits_usdc * 10**6 - outflows
    assert treasury_balance > 0


_TRANSFER_ABI = [
    {"anonymous": False, "name": "Transfer", "type": "event", "inputs": [
        {"indexed": True, "name": "sender", "type": "address"},
        {"indexed": True, "name": "receiver", "type": "address"},
        {"indexed": False, "name": "value", "type": "uint256"}]},
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "totalSupply", "type": "function", "stateMutability": "view",
     "inputs": [], "outputs": [{"name": "", "type": "uint256"}]},
]
