"""Publish one day to several chains.

Targets come from configuration as `(rpc_url, chain_id)` pairs, e.g. the environment
variable `AIDNAV_CHAIN_TARGETS="http://127.0.0.1:8545=31337,https://rpc.example=8453"`
(`parse_targets`); without it the one chain of `AIDNAV_RPC_URL` (`configured_targets`).
The daily job publishes each day to every target through `publishing.publication`.
Each target is published on its own: a node that is down, on the
wrong chain or lacking contracts fails that target with a clear message and the others
still post. The contract addresses of each chain come from `registry/addresses.csv`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from web3 import Web3

from onchain.contracts_client import AddressRegistryError, contract_addresses
from onchain.days import day_number
from publishing.publisher import PublishError, PublishResult, publish_nav, publish_rewards
from aidnav.config import load_settings
from onchain.signer import load_signer
from onchain.transactions import TRANSIENT_ERRORS, TxSigner, with_retries

log = logging.getLogger(__name__)

ENV_TARGETS = "AIDNAV_CHAIN_TARGETS"


LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class ChainTarget:
    rpc_url: str
    chain_id: int

    @property
    def is_local(self) -> bool:
        """A node on this machine: `aidnav chain up` and the demo start and deploy it."""
        return urlparse(self.rpc_url).hostname in LOCAL_HOSTS

    @property
    def port(self) -> int:
        return urlparse(self.rpc_url).port or 8545


@dataclass(frozen=True)
class DayFigures:
    """What is published for a day: NAV figures (wei) and the rewards root."""

    day: date
    share_price_wei: int
    nav_wei: int
    aid_supply_wei: int
    nav_report_hash: bytes
    rewards_root: str
    rewards_total_wei: int
    rewards_report_hash: bytes


@dataclass(frozen=True)
class TargetOutcome:
    target: ChainTarget
    nav: PublishResult | None = None
    rewards: PublishResult | None = None
    error: str | None = None


def parse_targets(text: str) -> list[ChainTarget]:
    """`url=chain_id` pairs separated by commas (or new lines)."""
    targets: list[ChainTarget] = []
    for number, item in enumerate(text.replace("\n", ",").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        url, sep, chain = item.rpartition("=")
        if not sep or not url.strip() or not chain.strip().isdigit():
            raise ValueError(
                f"{ENV_TARGETS} item {number} {item!r}: expected rpc_url=chain_id"
            )
        targets.append(ChainTarget(url.strip(), int(chain)))
    return targets


def connect_target(target: ChainTarget) -> Web3:
    return Web3(Web3.HTTPProvider(target.rpc_url, request_kwargs={"timeout": 30}))


def publish_to_targets(
    targets: Iterable[ChainTarget | tuple[str, int]],
    registry_dir: Path,
    figures: DayFigures,
    signer_for: Callable[[int], TxSigner] = load_signer,
    intent_path: Path | None = None,
    dry_run: bool = False,
    connect: Callable[[ChainTarget], Web3] = connect_target,
    raise_on_error: bool = True,
) -> list[TargetOutcome]:
    """Post `figures` (NAV, then the rewards root) to every target; one outcome each.

    With `raise_on_error` a `PublishError` naming every failed target is raised after all
    targets were tried.
    """
    outcomes: list[TargetOutcome] = []
    for item in targets:
        target = item if isinstance(item, ChainTarget) else ChainTarget(item[0], int(item[1]))
        outcomes.append(_publish_one(target, registry_dir, figures, signer_for, intent_path,
                                     dry_run, connect))
    failed = [o for o in outcomes if o.error is not None]
    if failed and raise_on_error:
        raise PublishError("; ".join(f"{o.target.rpc_url} (chain {o.target.chain_id}): "
                                     f"{o.error}" for o in failed))
    return outcomes


def _publish_one(
    target: ChainTarget, registry_dir: Path, figures: DayFigures,
    signer_for: Callable[[int], TxSigner], intent_path: Path | None, dry_run: bool,
    connect: Callable[[ChainTarget], Web3],
) -> TargetOutcome:
    try:
        w3 = connect(target)
        try:
            node_chain = int(with_retries(lambda: w3.eth.chain_id, "chain_id"))
        except TRANSIENT_ERRORS as exc:
            return TargetOutcome(target, error=f"RPC node unreachable ({type(exc).__name__})")
        if node_chain != target.chain_id:
            return TargetOutcome(
                target, error=f"node is on chain {node_chain}, configured {target.chain_id}")
        addresses = contract_addresses(registry_dir, target.chain_id)
        missing = [r for r in ("nav_oracle", "rewards_distributor") if r not in addresses]
        if missing:
            return TargetOutcome(target, error=f"addresses.csv has no {', '.join(missing)} "
                                 f"for chain {target.chain_id}: deploy first")
        signer = signer_for(target.chain_id)
        nav = publish_nav(w3, signer, addresses["nav_oracle"], figures.day,
                          figures.share_price_wei, figures.nav_wei, figures.aid_supply_wei,
                          figures.nav_report_hash, dry_run=dry_run, intent_path=intent_path)
        rewards = publish_rewards(w3, signer, addresses["rewards_distributor"],
                                  day_number(figures.day), figures.rewards_root,
                                  figures.rewards_total_wei, figures.rewards_report_hash,
                                  dry_run=dry_run, intent_path=intent_path)
    except (PublishError, AddressRegistryError) as exc:
        log.error("publication to chain %s failed: %s", target.chain_id, exc)
        return TargetOutcome(target, error=str(exc))
    return TargetOutcome(target, nav=nav, rewards=rewards)


def configured_targets(rpc_url: str, chain_id: int | None = None,
                       env: Mapping[str, str] | None = None) -> list[ChainTarget]:
    """Every chain a day is published to: `AIDNAV_CHAIN_TARGETS` (the settings, read from
    `env` when given), else the one chain of `rpc_url` (its chain id as configured, or as
    the node says)."""
    text = load_settings(env).chain_targets
    if text:
        return parse_targets(text)
    if chain_id is None:
        chain_id = int(with_retries(lambda: connect_target(ChainTarget(rpc_url, 0)).eth.chain_id,
                                    "chain_id"))
    return [ChainTarget(rpc_url, chain_id)]
