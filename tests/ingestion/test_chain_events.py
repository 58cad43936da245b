"""Chain events read from a real local anvil chain (MockUSDC compiled from the project's
Vyper source), including a reorganisation made with evm_snapshot / evm_revert."""

from __future__ import annotations

from datetime import date

import pytest

from ingestion.chain.events import ingest_chain_events
from ingestion.registry import Address, Params, Registry

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from web3 import Web3

    from onchain.build import load_artifact
    from onchain.testing import local_anvil

    with local_anvil(tmp_path_factory.mktemp("anvil")) as (rpc_url, _stop):
        w3 = Web3(Web3.HTTPProvider(rpc_url))
        art = load_artifact("MockUSDC")
        owner = w3.eth.accounts[0]
        tx = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor().transact(
            {"from": owner})
        address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
        yield w3, w3.eth.contract(address=address, abi=art["abi"])


def _registry(chain_id: int, token: str) -> Registry:
    return Registry((), (), (), (), (), (Address(chain_id, "usdc", token.lower(), "USDC"),),
                    Params(inception_date=date(2026, 1, 1), confirmations=0))


def _send(w3, token, fn, *args, sender=0):
    tx = getattr(token.functions, fn)(*args).transact({"from": w3.eth.accounts[sender]})
    return w3.eth.wait_for_transaction_receipt(tx)


def _events(con):
    return con.execute("select block_number, event, arg_from, arg_to, arg_value "
                       "from raw.chain_events order by block_number, log_index").fetchall()


@pytest.fixture
def fresh(chain, con):
    """The chain reverted to its state after deployment at the end of the test."""
    w3, token = chain
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    yield w3, token, con
    w3.provider.make_request("evm_revert", [snap])


def test_transfers_decoded_exactly_and_checkpointed(fresh):
    w3, token, con = fresh
    a0, a1 = (x.lower() for x in w3.eth.accounts[:2])
    big = 10**37 + 7   # exact integers, far beyond a double's 2^53
    r1 = _send(w3, token, "mint", w3.eth.accounts[0], big)
    r2 = _send(w3, token, "transfer", w3.eth.accounts[1], 123_456)
    reg = _registry(w3.eth.chain_id, token.address)
    stats = ingest_chain_events(con, w3, reg)
    assert stats.rows_loaded == 2
    zero = "0x" + "00" * 20
    assert _events(con)[-2:] == [(r1["blockNumber"], "Transfer", zero, a0, big),
                                 (r2["blockNumber"], "Transfer", a0, a1, 123_456)]
    ts, h = con.execute("select block_timestamp, block_hash from raw.chain_blocks "
                        "where block_number = ?", [r2["blockNumber"]]).fetchall()[0]
    block = w3.eth.get_block(r2["blockNumber"])
    assert int(ts.timestamp()) == block["timestamp"] and h == "0x" + bytes(block["hash"]).hex()
    assert con.execute("select last_block from raw.chain_checkpoints").fetchall() == [
        (w3.eth.block_number,)]
    # nothing new: no events, no change
    assert ingest_chain_events(con, w3, reg).rows_loaded == 0
    assert len(_events(con)) == 2


def test_confirmations_hold_back_recent_blocks(fresh):
    w3, token, con = fresh
    _send(w3, token, "mint", w3.eth.accounts[0], 5)
    reg = _registry(w3.eth.chain_id, token.address)
    assert ingest_chain_events(con, w3, reg, confirmations=3).rows_loaded == 0
    w3.provider.make_request("anvil_mine", [3])
    assert ingest_chain_events(con, w3, reg, confirmations=3).rows_loaded == 1


def test_reorg_rewinds_to_the_fork_point_and_reingests(fresh):
    w3, token, con = fresh
    reg = _registry(w3.eth.chain_id, token.address)
    keep = _send(w3, token, "mint", w3.eth.accounts[0], 1_000)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    _send(w3, token, "transfer", w3.eth.accounts[1], 111)
    _send(w3, token, "transfer", w3.eth.accounts[2], 222)
    ingest_chain_events(con, w3, reg)
    assert [e[4] for e in _events(con)] == [1_000, 111, 222]
    # the chain reorganises: the two transfers vanish, different ones take their blocks
    w3.provider.make_request("evm_revert", [snap])
    _send(w3, token, "transfer", w3.eth.accounts[3], 333)
    w3.provider.make_request("anvil_mine", [2])
    stats = ingest_chain_events(con, w3, reg)
    assert stats.rows_loaded == 1
    a3 = w3.eth.accounts[3].lower()
    assert [(e[3], e[4]) for e in _events(con)][-1] == (a3, 333)
    assert [e[4] for e in _events(con)] == [1_000, 333]
    assert _events(con)[0][0] == keep["blockNumber"]
    stored = con.execute("select block_number, block_hash from raw.chain_blocks").fetchall()
    for number, h in stored:
        assert h == "0x" + bytes(w3.eth.get_block(number)["hash"]).hex()


def test_get_logs_ranges_halve_on_provider_error_and_grow_back(fresh, monkeypatch):
    """The node is real; only its range limit is simulated (a hosted RPC refuses large
    ranges, anvil does not)."""
    w3, token, con = fresh
    for i in range(6):
        _send(w3, token, "mint", w3.eth.accounts[0], i + 1)
    w3.provider.make_request("anvil_mine", [20])
    calls = []
    real = w3.eth.get_logs

    def limited(params):
        span = params["toBlock"] - params["fromBlock"] + 1
        calls.append(span)
        if span > 4:
            raise ValueError("query returned more than 10000 results")
        return real(params)

    monkeypatch.setattr(w3.eth, "get_logs", limited)
    reg = _registry(w3.eth.chain_id, token.address)
    stats = ingest_chain_events(con, w3, reg, chunk_blocks=16)
    assert stats.rows_loaded == 6
    assert [e[4] for e in _events(con)] == [1, 2, 3, 4, 5, 6]
    assert calls[:4] == [16, 8, 4, 8]    # halved until accepted, then grown back


def test_amount_beyond_decimal_38_stops_with_the_transaction(fresh):
    from ingestion.chain.events import ChainIngestError

    w3, token, con = fresh
    _send(w3, token, "mint", w3.eth.accounts[0], 10**38)
    with pytest.raises(ChainIngestError, match="below 10\\^38"):
        ingest_chain_events(con, w3, _registry(w3.eth.chain_id, token.address))
    assert con.execute("select count(*) from raw.chain_events").fetchall() == [(0,)]
