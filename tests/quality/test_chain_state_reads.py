"""A reconciliation reads balances at a past block. After anvil restarts from its state file
it no longer serves past blocks' states (it keeps their blocks, not their states), nor does
a node that is not an archive: the reading kept when the state was served is used then.
A real anvil, restarted."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from ingestion.warehouse import connect
from onchain import anvil
from onchain.build import load_artifact
from onchain.deploy import call, ensure_deployed
from onchain.signer import anvil_test_signer
from onchain.testing import free_port
from quality.reconcile import ERC20_ABI, StateUnavailable, call_at_block

pytestmark = pytest.mark.chain


def test_a_past_blocks_reading_is_kept_and_used_after_anvil_restarts(tmp_path: Path):
    state = tmp_path / "chain" / "state.json"
    port = free_port()
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.start(state, port=port).rpc_url))
        addresses = ensure_deployed(w3, anvil_test_signer(0), tmp_path / "registry", 31337)
        minter = w3.eth.contract(address=Web3.to_checksum_address(addresses["usdc"]),
                                 abi=load_artifact("MockUSDC")["abi"])
        holder = w3.eth.accounts[3]
        past = call(w3, anvil_test_signer(0), minter, "mint", holder, 5_000_000).blockNumber
        call(w3, anvil_test_signer(0), minter, "mint", holder, 7_000_000)   # the head moves on
        usdc = w3.eth.contract(address=minter.address, abi=ERC20_ABI)
        expected = 5_000_000                    # 5 USDC at that block, 12 at the head
        read = call_at_block(con, 31337, past, addresses["usdc"], f"balanceOf({holder})",
                             usdc.functions.balanceOf(holder))
        assert read == expected
        assert con.execute("select count(*) from raw.chain_state_reads").fetchone() == (1,)

        anvil.stop(state.parent)
        w3 = Web3(Web3.HTTPProvider(anvil.start(state, port=port).rpc_url))
        usdc = w3.eth.contract(address=usdc.address, abi=ERC20_ABI)
        with pytest.raises(Exception, match="(?i)blockoutofrange"):   # what anvil answers now
            usdc.functions.balanceOf(holder).call(block_identifier=past)
        assert call_at_block(con, 31337, past, addresses["usdc"], f"balanceOf({holder})",
                             usdc.functions.balanceOf(holder)) == expected

        # a call never read while the state was served: a clear refusal, not a guess
        with pytest.raises(StateUnavailable, match=f"totalSupply\\(\\) of .* at block {past}: "
                                                   "the chain no longer serves"):
            call_at_block(con, 31337, past, addresses["usdc"], "totalSupply()",
                          usdc.functions.totalSupply())
    finally:
        con.close()
        anvil.stop(state.parent)
