"""Preparing the demo book: its files, its local chain, the contracts and the on-chain
scenario, everything a daily run needs, no day run yet. Every step is idempotent, so a
second preparation on the same data directory sends no new transaction."""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta

from aidnav.config import Settings, prepare_environment


def step(message: str, say=print) -> float:
    say(f"==> {message}", flush=True)
    return time.monotonic()


def done(started: float, say=print) -> None:
    say(f"    done in {time.monotonic() - started:.1f} s", flush=True)


def prepare_book(settings: Settings, days: int, end_day: date, scale: float = 1.0,
                 sample_interval_s: int = 3600, progress: bool = True) -> dict[str, str]:
    """The demo book's files, its local chain, the contracts and the on-chain scenario:
    everything a daily run needs, no day run yet. Returns the contract addresses."""
    from web3 import Web3

    from demo import drive_chain, generate_offchain, genesis_timestamp
    from onchain import anvil
    from onchain.deploy import ensure_deployed
    from onchain.signer import LOCAL_CHAIN_ID, anvil_test_signer

    say = print if progress else (lambda *args, **kwargs: None)
    bars = progress and sys.stderr.isatty()  # plain lines only, in a file or a pipe
    prepare_environment(settings)
    first_day = end_day - timedelta(days=days - 1)

    t = step(f"demo book for {first_day} .. {end_day} in {settings.data_dir}", say)
    book = generate_offchain(settings.data_dir, end_day=end_day, days=days, scale=scale,
                             sample_interval_s=sample_interval_s, progress=bars)
    done(t, say)

    t = step(f"local chain at {settings.rpc_url}", say)
    status = anvil.start(
        settings.chain_dir / "anvil-state.json",
        port=settings.rpc_port,
        timestamp=genesis_timestamp(first_day),
        log_file=settings.chain_dir / "anvil.log",
    )
    say(f"    anvil running: chain {status.chain_id}, block {status.block_number}, "
        f"pid {status.pid or '?'}")
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 60}))
    chain_id = int(w3.eth.chain_id)
    if chain_id != LOCAL_CHAIN_ID:
        raise SystemExit(f"error: the demo drives only a local anvil chain ({LOCAL_CHAIN_ID}), "
                         f"not chain {chain_id} at {settings.rpc_url} — point AIDNAV_RPC_URL "
                         "at a local anvil")
    done(t, say)

    t = step("contracts (deployed only where the chain lacks their code)", say)
    addresses = ensure_deployed(w3, anvil_test_signer(0), settings.registry_dir, chain_id)
    for role, address in sorted(addresses.items()):
        say(f"    {role:<20} {address}")
    done(t, say)

    t = step("on-chain scenario: deposits, staking, funding, repayments, fees", say)
    result = drive_chain(w3, settings.data_dir, book, addresses, progress=bars)
    say(f"    {scenario_line(result)}")
    done(t, say)

    t = step("GAIB incentive budget held by the rewards distributor", say)
    say(f"    {fund_rewards_budget(w3, settings, addresses, days)}")
    done(t, say)
    prepare_further_chains(settings, w3, say)
    return addresses


def scenario_line(result) -> str:
    """The on-chain scenario in words: what was sent, or that it was already on chain."""
    sent = (f"{result.transactions_sent} transactions sent"
            if result.transactions_sent else "0 transactions sent: already on chain")
    return (f"{sent} ({result.steps_planned} steps, {result.steps_already_on_chain} already "
            f"on chain), blocks {result.first_block}..{result.last_block}; "
            f"{result.holders} holders, deposits {result.deposits_usdc:,} USDC, principal "
            f"{result.principal_usdc:,} USDC, lowest backing ratio "
            f"{result.estimated_min_backing_ratio:.4f}")


def fund_rewards_budget(w3, settings: Settings, addresses: dict[str, str], days: int) -> str:
    """Mint the window's GAIB budget to the distributor once, so that claims pay out.

    Keyed on GAIB's total supply, which claims do not reduce: a second demo sends nothing.
    """
    from decimal import Decimal

    from ingestion.registry import parse_registry
    from onchain.contracts_client import contract_at
    from onchain.deploy import call
    from onchain.signer import anvil_test_signer

    budget = parse_registry(settings.registry_dir).params.daily_rewards_budget_gaib
    required = int(Decimal(budget) * days * 10**18)
    gaib = contract_at(w3, "GaibToken", addresses["gaib"])
    supply = gaib.functions.totalSupply().call()
    if supply >= required:
        return f"already funded: {supply / 10**18:,.0f} GAIB minted"
    distributor = w3.to_checksum_address(addresses["rewards_distributor"])
    call(w3, anvil_test_signer(0), gaib, "mint", distributor, required - supply)
    return f"minted {(required - supply) / 10**18:,.0f} GAIB to {distributor}"


def prepare_further_chains(settings: Settings, w3, say=print) -> None:
    """Every further local target of `AIDNAV_CHAIN_TARGETS` (127.0.0.1, its own chain id):
    its anvil started at the main chain's time and the contracts deployed, so that the
    daily job posts each day there too (signed with the anvil test key, as on the main
    local chain, unless a key is configured)."""
    from web3 import Web3

    from onchain import anvil
    from onchain.deploy import ensure_deployed
    from onchain.signer import anvil_test_signer
    from onchain.targets import configured_targets

    targets = configured_targets(settings.rpc_url, int(w3.eth.chain_id))
    further = anvil.further_local_targets(targets, settings.rpc_url)
    if not further:
        return
    t = step("further local chains of AIDNAV_CHAIN_TARGETS", say)
    now = int(w3.eth.get_block("latest")["timestamp"])
    for status in anvil.start_further_targets(settings.chain_dir, targets, settings.rpc_url,
                                              timestamp=now):
        say(f"    anvil running at {status.rpc_url}: chain {status.chain_id}, "
            f"block {status.block_number}, pid {status.pid or '?'}")
    for url, chain_id, _port in further:
        other = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
        deployed = ensure_deployed(other, anvil_test_signer(0), settings.registry_dir, chain_id)
        say(f"    chain {chain_id}: nav_oracle {deployed['nav_oracle']}, "
            f"rewards_distributor {deployed['rewards_distributor']}")
    done(t, say)
