"""Batch signatures of the node agent: `<batch file>.sig` (`b.jsonl.sig`, `b.jsonl.zst.sig`)
holds `{"signer", "sha256", "signature"}`, an EIP-191 `personal_sign` of the 32-byte sha256
digest of the batch file bytes as delivered, compressed or not (DATA_CONTRACTS.md, "GPU
telemetry (NVML)")."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct

MISSING_SIGNATURE = ("batch has no .sig file: expected the batch's file name followed by .sig "
                     "(<batch>.jsonl.sig, <batch>.jsonl.zst.sig)")

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class BatchVerdict:
    """`signer` is the recovered address (lower-case) when it could be recovered;
    `reason` is None when the batch verifies against `expected_signer`."""

    sha256: str
    signer: str | None
    reason: str | None


def sign_batch(data: bytes, private_key: bytes | str) -> dict[str, str]:
    """The `.sig` document for `data` (what the node agent writes)."""
    digest = hashlib.sha256(data).digest()
    acct = Account.from_key(private_key)
    signed = Account.sign_message(encode_defunct(primitive=digest), private_key=private_key)
    return {"signer": acct.address.lower(), "sha256": digest.hex(),
            "signature": "0x" + signed.signature.hex().removeprefix("0x")}


def verify_batch(data: bytes, sig_bytes: bytes | None, expected_signer: str | None,
                 node_id: str) -> BatchVerdict:
    """Check the sha256 and the signature of a batch; the recovered signer must be
    `expected_signer`, the registered node_address of the batch folder's `node_id`."""
    digest = hashlib.sha256(data).digest()
    sha = digest.hex()
    if sig_bytes is None:
        return BatchVerdict(sha, None, MISSING_SIGNATURE)
    try:
        sig = json.loads(sig_bytes)
        claimed_sha = sig["sha256"]
        signature = sig["signature"]
        if not isinstance(claimed_sha, str) or not isinstance(signature, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return BatchVerdict(sha, None, "malformed .sig file: expected JSON "
                            '{"signer","sha256","signature"} with string values')
    if not _HEX64.match(claimed_sha.removeprefix("0x")) or claimed_sha.removeprefix("0x").lower() != sha:
        return BatchVerdict(sha, None, f"sha256 mismatch: the batch bytes hash to {sha}, "
                            f"the .sig says {claimed_sha}")
    try:
        signer = Account.recover_message(encode_defunct(primitive=digest),
                                         signature=signature).lower()
    except Exception as e:  # eth_keys raises several types for a malformed signature
        return BatchVerdict(sha, None, f"invalid signature: {type(e).__name__}: "
                            "expected a 65-byte EIP-191 signature of the sha256 digest")
    if expected_signer is None:
        return BatchVerdict(sha, signer, f"node {node_id!r} has no registered node_address")
    if signer != expected_signer.lower():
        return BatchVerdict(sha, signer, f"bad signature: recovers signer {signer}, expected "
                            f"the registered node_address {expected_signer} of {node_id}")
    return BatchVerdict(sha, signer, None)
