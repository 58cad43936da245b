"""One day published to several chains; a chain that is down fails alone, clearly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from web3 import Web3

from onchain.contracts_client import contract_for_role
from onchain.deploy import ensure_deployed
from onchain.days import day_number
from publishing.publisher import PublishError
from onchain.signer import anvil_test_signer
from onchain.targets import ChainTarget, DayFigures, parse_targets, publish_to_targets
from onchain.testing import free_port, local_anvil

pytestmark = pytest.mark.chain

GENESIS = 1773532800  # 2026-03-15T00:00:00Z
DAY = date(2026, 3, 1)
FIGURES = DayFigures(DAY, 1_058541655371304975, 200601_457260273972602740, 195800 * 10**18,
                     b"\x11" * 32, "0x" + "ab" * 32, 10**22, b"\x22" * 32)


def test_parse_targets() -> None:
    assert parse_targets("http://a:8545=31337, https://b/x?k=v=8453\n") == [
        ChainTarget("http://a:8545", 31337), ChainTarget("https://b/x?k=v", 8453)]
    with pytest.raises(ValueError, match="item 1 'http://a:8545': expected rpc_url=chain_id"):
        parse_targets("http://a:8545")


def test_each_chain_gets_the_day_once(chain: str, tmp_path: Path) -> None:
    registry, ledger = tmp_path / "registry", tmp_path / "intents.jsonl"
    signer = anvil_test_signer(0)
    dead = ChainTarget(f"http://127.0.0.1:{free_port()}", 5)
    with local_anvil(tmp_path / "second", timestamp=GENESIS, chain_id=31338) as (second, _):
        targets = [ChainTarget(chain, 31337), (second, 31338), dead]
        for url, chain_id in ((chain, 31337), (second, 31338)):
            ensure_deployed(Web3(Web3.HTTPProvider(url)), signer, registry, chain_id)

        outcomes = publish_to_targets(targets, registry, FIGURES, signer_for=lambda _c: signer,
                                      intent_path=ledger, raise_on_error=False)
        assert [(o.nav and o.nav.status, o.rewards and o.rewards.status) for o in outcomes] == [
            ("posted", "posted"), ("posted", "posted"), (None, None)]
        assert "unreachable" in (outcomes[2].error or "")
        for url in (chain, second):
            w3 = Web3(Web3.HTTPProvider(url))
            oracle = contract_for_role(w3, registry, "nav_oracle")
            assert oracle.functions.latestDay().call() == day_number(DAY)
            assert contract_for_role(w3, registry, "rewards_distributor").functions \
                .currentRoot().call() == b"\xab" * 32

        with pytest.raises(PublishError, match=f"{dead.rpc_url} \\(chain 5\\): RPC node unreachable"):
            publish_to_targets(targets, registry, FIGURES, signer_for=lambda _c: signer,
                               intent_path=ledger)
        again = publish_to_targets(targets[:2], registry, FIGURES, signer_for=lambda _c: signer,
                                   intent_path=ledger)
        assert {(o.nav.status, o.rewards.status) for o in again} == {  # type: ignore[union-attr]
            ("already_posted", "already_posted")}
        wrong = publish_to_targets([(second, 1)], registry, FIGURES,
                                   signer_for=lambda _c: signer, raise_on_error=False)
        assert wrong[0].error == "node is on chain 31338, configured 1"
