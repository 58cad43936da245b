"""What a holder needs to claim its GAIB: the proof of its cumulative amount.

`rewards_proof` reads the rewards report of the latest ACCEPTED root
(`reports_dir/rewards/<YYYY-MM-DD>.json`, written by the daily job: `epoch`, `day`, `root`,
`total_cumulative_wei`, `leaves` = [{account, cumulative_wei, proof}]), checks the report
against the chain (same root) and the proof against the root, and returns the claim.
Without a chain connection the latest report on disk is used (its root may still be
pending: `"checked_onchain": false` says so).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from eth_utils import is_address
from web3 import Web3
from web3.logs import DISCARD

from onchain.contracts_client import contract_at, contract_for_role
from onchain.merkle import leaf_hash, verify
from onchain.days import day_from_number
from onchain.transactions import TxSigner, send_transaction


class ClaimsError(ValueError):
    """No accepted root, no report for it, the report disagrees, or the account is absent."""


def _report_path(reports_dir: Path, day: date) -> Path:
    return Path(reports_dir) / "rewards" / f"{day.isoformat()}.json"


def _latest_report(reports_dir: Path) -> Path:
    folder = Path(reports_dir) / "rewards"
    files = sorted(p for p in folder.glob("*.json") if _is_day(p.stem))
    if not files:
        raise ClaimsError(f"no rewards report (YYYY-MM-DD.json) in {folder}")
    return files[-1]


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _read_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClaimsError(f"rewards report {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ClaimsError(f"{path} line {exc.lineno}: not JSON ({exc.msg})") from None
    for field in ("epoch", "root", "leaves"):
        if field not in report:
            raise ClaimsError(f"{path}: field {field!r} missing")
    return report


def rewards_proof(
    reports_dir: Path,
    account: str,
    w3: Web3 | None = None,
    distributor_address: str | None = None,
    registry_dir: Path | None = None,
) -> dict[str, Any]:
    """The claim of `account` under the latest accepted root.

    Returns `{"account", "epoch", "day", "root", "cumulative" (wei, string), "proof"
    (0x-hex list), "distributor", "checked_onchain"}` plus, with a chain, `"claimed"` and
    `"claimable"` (wei strings). The distributor comes from `distributor_address`, or
    from `registry_dir`'s addresses.csv for the node's chain.
    """
    if not isinstance(account, str) or not is_address(account):
        raise ClaimsError(f"account {account!r} is not a 20-byte hex address")
    distributor = None
    if w3 is not None:
        if distributor_address is not None:
            distributor = contract_at(w3, "RewardsDistributor", distributor_address)
        elif registry_dir is not None:
            distributor = contract_for_role(w3, registry_dir, "rewards_distributor")
        else:
            raise ClaimsError("a chain connection needs distributor_address or registry_dir")

    if distributor is not None:
        epoch = int(distributor.functions.currentEpoch().call())
        if epoch == 0:
            raise ClaimsError(f"distributor {distributor.address} has no accepted root yet")
        onchain_root = "0x" + bytes(distributor.functions.currentRoot().call()).hex()
        path = _report_path(reports_dir, day_from_number(epoch))
    else:
        path = _latest_report(reports_dir)
        onchain_root = None
    report = _read_report(path)
    root = str(report["root"]).lower()
    epoch = int(report["epoch"])
    if onchain_root is not None and root != onchain_root:
        raise ClaimsError(
            f"{path}: root {root} differs from the accepted root {onchain_root} on chain"
        )

    wanted = account.lower()
    leaf = next((lf for lf in report["leaves"] if str(lf.get("account", "")).lower() == wanted),
                None)
    if leaf is None:
        raise ClaimsError(f"account {Web3.to_checksum_address(account)} has no rewards in {path}")
    cumulative = int(leaf["cumulative_wei"])
    proof = [str(p) for p in leaf["proof"]]
    if not verify(root, leaf_hash(wanted, cumulative), proof):
        raise ClaimsError(f"{path}: the proof of {wanted} does not lead to root {root}")

    claim: dict[str, Any] = {
        "account": Web3.to_checksum_address(account),
        "epoch": epoch,
        "day": day_from_number(epoch).isoformat(),
        "root": root,
        "cumulative": str(cumulative),
        "proof": proof,
        "distributor": None if distributor is None else distributor.address,
        "checked_onchain": distributor is not None,
    }
    if distributor is not None:
        claimed = int(distributor.functions.claimed(claim["account"]).call())
        claim["claimed"] = str(claimed)
        claim["claimable"] = str(max(cumulative - claimed, 0))
    return claim


def claim_rewards(w3: Web3, signer: TxSigner, claim: dict[str, Any]) -> int:
    """Send `claim(account, cumulative, proof)` for a `rewards_proof` answer; returns the
    GAIB paid (wei). Anyone may send it: the account is paid."""
    if not claim.get("distributor"):
        raise ClaimsError("the claim names no distributor: build it with a chain connection")
    distributor = contract_at(w3, "RewardsDistributor", claim["distributor"])
    args = [claim["account"], int(claim["cumulative"]),
            [bytes.fromhex(p.removeprefix("0x")) for p in claim["proof"]]]
    data = distributor.encode_abi("claim", args=args)
    receipt = send_transaction(w3, signer, {"to": distributor.address, "data": data})
    events = distributor.events.Claimed().process_receipt(receipt, errors=DISCARD)
    return sum(int(e["args"]["amount"]) for e in events)
