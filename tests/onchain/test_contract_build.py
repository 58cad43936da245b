"""The contracts compile offline and the artifacts are cached."""

from __future__ import annotations

import shutil
import time

from onchain import build


def _names(abi: list[dict]) -> set[str]:
    return {entry.get("name", "") for entry in abi}


def test_every_contract_compiles_to_abi_and_bytecode() -> None:
    for name in build.CONTRACT_NAMES:
        artifact = build.load_artifact(name)
        assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 1000
        assert isinstance(artifact["abi"], list) and artifact["abi"]


def test_contract_interfaces() -> None:
    erc20 = {"transfer", "transferFrom", "approve", "balanceOf", "allowance", "totalSupply",
             "decimals", "symbol", "name", "mint", "burn", "burn_from"}
    for name in ("MockUSDC", "AidToken", "GaibToken"):
        assert erc20 <= _names(build.load_artifact(name)["abi"]), name
    vault = {"deposit", "mint", "withdraw", "redeem", "totalAssets", "convertToAssets",
             "convertToShares", "asset"}
    assert vault <= _names(build.load_artifact("StakedAid")["abi"])
    aggregator = {"decimals", "description", "version", "latestRoundData", "getRoundData",
                  "postNav", "navOf", "latestDay", "publisher", "NavPosted"}
    assert aggregator <= _names(build.load_artifact("NavOracle")["abi"])
    aggregator |= {"admin", "pendingAdmin", "transferAdmin", "acceptAdmin", "guardian",
                   "pause", "unpause", "paused", "setOverride", "overrideOf", "maxMoveBps"}
    assert aggregator <= _names(build.load_artifact("NavOracle")["abi"])
    distributor = {"proposeRoot", "acceptRoot", "revokePendingRoot", "pendingRoot", "timelock",
                   "claim", "currentEpoch", "currentRoot", "claimed", "updater", "guardian",
                   "admin", "transferAdmin", "acceptAdmin", "epochOf"}
    assert distributor <= _names(build.load_artifact("RewardsDistributor")["abi"])


def test_second_build_reads_the_cache(tmp_path) -> None:
    first = build.build_all(tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in first.glob("*.json")}
    assert set(stamps) == {f"{n}.json" for n in build.CONTRACT_NAMES}
    started = time.perf_counter()
    second = build.build_all(tmp_path)
    assert time.perf_counter() - started < 0.5
    assert second == first
    assert {p.name: p.stat().st_mtime_ns for p in second.glob("*.json")} == stamps


def test_cache_key_covers_the_compiler_version(monkeypatch) -> None:
    key = build.source_hash()
    monkeypatch.setattr(build, "_compiler_version", lambda: "0.0.0-other")
    assert build.source_hash() != key


def test_cache_key_covers_the_shared_admin_module(tmp_path, monkeypatch) -> None:
    """A change to the module NavOracle and RewardsDistributor share (and to nothing
    else) gives a new cache folder, so the demo deploys the new bytecode."""
    contracts = tmp_path / "contracts"
    shutil.copytree(build.CONTRACTS_DIR, contracts)
    monkeypatch.setattr(build, "CONTRACTS_DIR", contracts)
    key = build.source_hash()
    module = contracts / "admin_roles.vy"
    module.write_text(module.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert build.source_hash() != key
