"""Deterministic TEST keys for the demo chain and demo telemetry.

These keys are derived from public strings and protect nothing: they exist so that a demo
(and its tests) can be replayed byte for byte. Never use them outside a local chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from eth_account import Account
from eth_utils import keccak

TEST_KEY_PREFIX = "aidnav-demo-test-key:"


@dataclass(frozen=True)
class DemoTestKey:
    name: str
    private_key: str  # 0x-prefixed hex; a public TEST key
    address: str  # checksummed


@lru_cache(maxsize=None)
def derive_test_key(name: str) -> DemoTestKey:
    """The TEST key named `name`: keccak256 of `aidnav-demo-test-key:<name>`."""
    raw = keccak(text=f"{TEST_KEY_PREFIX}{name}")
    acct = Account.from_key(raw)
    return DemoTestKey(name=name, private_key="0x" + raw.hex(), address=acct.address)
