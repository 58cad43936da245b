"""A holder claims its GAIB with the proof from the rewards report of the latest ACCEPTED
root; a second claim pays nothing; a forged proof reverts; the price feed is readable by
a consumer that knows only Chainlink's interface."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from onchain.claims import ClaimsError, claim_rewards, rewards_proof
from onchain.contracts_client import contract_at
from onchain.deploy import call, deploy_contract
from onchain.merkle import build_tree
from onchain.days import day_number
from publishing.publisher import publish_nav, publish_rewards
from onchain.read_price import read_price
from onchain.signer import Signer, anvil_test_signer

pytestmark = pytest.mark.chain

ACCEPTED_DAY, PENDING_DAY = date(2026, 3, 4), date(2026, 3, 5)
REPO = Path(__file__).resolve().parents[2]


def _rows(expected: Path, day: date) -> list[tuple[str, int]]:
    with open(expected / "fct_staker_rewards_daily.csv", newline="") as fh:
        return [(r["account"], int(r["cumulative_wei"])) for r in csv.DictReader(fh)
                if r["day"] == day.isoformat() and int(r["cumulative_wei"]) > 0]


def _root_row(expected: Path, day: date) -> dict[str, str]:
    with open(expected / "rewards_roots.csv", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["day"] == day.isoformat())


def _write_report(reports_dir: Path, expected: Path, day: date) -> dict:
    """The daily job's rewards report (DATA_CONTRACTS / publication.build_rewards_report)."""
    entries = _rows(expected, day)
    tree = build_tree(entries)
    row = _root_row(expected, day)
    assert tree.root == row["root"]  # the independent reference agrees
    report = {
        "kind": "rewards", "epoch": day_number(day), "day": day.isoformat(), "root": tree.root,
        "total_cumulative_wei": row["total_cumulative_wei"],
        "leaves": [{"account": a, "cumulative_wei": str(c), "proof": tree.proof(a)}
                   for a, c in sorted(entries)],
    }
    path = reports_dir / "rewards" / f"{day.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, sort_keys=True, separators=(",", ":")))
    return report


@pytest.fixture()
def distributor_with_two_days(
    w3: Web3, deployer: Signer, worked_example_expected: Path, tmp_path: Path
) -> tuple[Contract, Contract, Path]:
    gaib = contract_at(w3, "GaibToken", deploy_contract(w3, deployer, "GaibToken"))
    distributor = contract_at(w3, "RewardsDistributor",
                              deploy_contract(w3, deployer, "RewardsDistributor",
                                              gaib.address, 3600))
    reports = tmp_path / "reports"
    for day in (ACCEPTED_DAY, PENDING_DAY):
        report = _write_report(reports, worked_example_expected, day)
        call(w3, deployer, gaib, "mint", distributor.address, int(report["total_cumulative_wei"])
             - gaib.functions.balanceOf(distributor.address).call())
        result = publish_rewards(w3, deployer, distributor.address, report["epoch"],
                                 report["root"], int(report["total_cumulative_wei"]),
                                 b"\x07" * 32)
        assert result.status == "posted"
        w3.provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
    assert distributor.functions.currentEpoch().call() == day_number(ACCEPTED_DAY)
    assert distributor.functions.pendingRoot().call()[0] == day_number(PENDING_DAY)
    return gaib, distributor, reports


def test_holder_claims_exactly_its_cumulative_once(
    w3: Web3,
    distributor_with_two_days: tuple[Contract, Contract, Path],
    worked_example_expected: Path,
) -> None:
    gaib, distributor, reports = distributor_with_two_days
    accepted_rows = dict(_rows(worked_example_expected, ACCEPTED_DAY))
    pending_rows = dict(_rows(worked_example_expected, PENDING_DAY))
    claimer = anvil_test_signer(8)  # anyone may send the claim; the account is paid
    for account, cumulative in accepted_rows.items():
        assert pending_rows[account] > cumulative  # the pending day would pay more
        proof = rewards_proof(reports, account, w3, distributor.address)
        assert proof["epoch"] == day_number(ACCEPTED_DAY) and proof["day"] == "2026-03-04"
        assert proof["root"] == _root_row(worked_example_expected, ACCEPTED_DAY)["root"]
        assert proof["cumulative"] == str(cumulative)
        assert proof["distributor"] == distributor.address and proof["checked_onchain"]
        assert all(p.startswith("0x") and len(p) == 66 for p in proof["proof"])
        json.dumps(proof)  # what `aidnav rewards proof --json` prints

        checksummed = Web3.to_checksum_address(account)
        assert claim_rewards(w3, claimer, proof) == cumulative  # type: ignore[arg-type]
        assert gaib.functions.balanceOf(checksummed).call() == cumulative
        assert claim_rewards(w3, claimer, proof) == 0  # type: ignore[arg-type]
        assert gaib.functions.balanceOf(checksummed).call() == cumulative
        assert rewards_proof(reports, account, w3, distributor.address)["claimable"] == "0"


def test_forged_proof_reverts(
    distributor_with_two_days: tuple[Contract, Contract, Path], worked_example_expected: Path
) -> None:
    _gaib, distributor, reports = distributor_with_two_days
    account = sorted(dict(_rows(worked_example_expected, ACCEPTED_DAY)))[0]
    proof = rewards_proof(reports, account, distributor.w3, distributor.address)
    siblings = [bytes.fromhex(p[2:]) for p in proof["proof"]]
    checksummed = Web3.to_checksum_address(account)
    with pytest.raises(ContractLogicError, match="invalid proof"):
        distributor.functions.claim(checksummed, int(proof["cumulative"]) + 1, siblings).call()
    # the pending day's larger amount is not claimable before its root is accepted
    pending = dict(_rows(worked_example_expected, PENDING_DAY))[account]
    with pytest.raises(ContractLogicError, match="invalid proof"):
        distributor.functions.claim(checksummed, pending, siblings).call()


def test_proof_errors_are_clear(
    distributor_with_two_days: tuple[Contract, Contract, Path], worked_example_expected: Path
) -> None:
    _gaib, distributor, reports = distributor_with_two_days
    w3 = distributor.w3
    with pytest.raises(ClaimsError, match="has no rewards in .*2026-03-04.json"):
        rewards_proof(reports, anvil_test_signer(9).address, w3, distributor.address)
    offline = rewards_proof(reports, sorted(dict(_rows(worked_example_expected, PENDING_DAY)))[0])
    assert offline["day"] == "2026-03-05" and offline["checked_onchain"] is False
    (reports / "rewards" / "2026-03-04.json").unlink()
    with pytest.raises(ClaimsError, match="2026-03-04.json does not exist"):
        rewards_proof(reports, sorted(dict(_rows(worked_example_expected, ACCEPTED_DAY)))[0], w3,
                      distributor.address)


def test_consumer_reads_the_posted_share_price(w3: Web3, deployer: Signer,
                                                worked_example_expected: Path) -> None:
    oracle = contract_at(w3, "NavOracle", deploy_contract(w3, deployer, "NavOracle", 100))
    with open(worked_example_expected / "fct_nav_daily.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["day"] == "2026-03-01")
    price = int((Decimal(row["share_price"]) * 10**18).to_integral_value())
    assert price == 1_058541655371304975
    publish_nav(w3, deployer, oracle.address, date(2026, 3, 1), price, 10**18, 10**18,
                b"\x01" * 32)

    feed = read_price(w3, oracle.address)
    assert (feed.round_id, feed.answer, feed.decimals) == (day_number(date(2026, 3, 1)),
                                                           price, 18)
    assert feed.price == Decimal("1.058541655371304975")
    out = subprocess.run(
        [sys.executable, "-m", "onchain.read_price", "--rpc-url",
         w3.provider.endpoint_uri, "--feed", oracle.address],  # type: ignore[attr-defined]
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    assert out[1] == str(price) and out[-1] == "1.058541655371304975"
