"""OpenZeppelin "standard Merkle tree" for (address account, uint256 cumulative) leaves.

Matches `@openzeppelin/merkle-tree` `StandardMerkleTree.of(values, ["address", "uint256"])`:
- leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))));
- leaves sorted by hash; the tree is a complete binary tree stored as an array with the
  leaves at the end in reverse order; a parent is keccak256 of its two children sorted;
- a proof is the sibling hashes from the leaf up, so OpenZeppelin's `MerkleProof.verify`
  (and snekmate's `merkle_proof_verification._verify`) accept it.
The empty tree has root `0x` + 64 zeros (nothing can be claimed against it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from eth_utils import is_address, keccak

ZERO_ROOT = "0x" + "0" * 64
_UINT256_MAX = 2**256 - 1


class MerkleError(ValueError):
    """An entry is invalid (address, amount, duplicate) or an account is unknown."""


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _bytes32(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes):
        raw = value
    else:
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise MerkleError(f"{what} {value!r} is not hex") from None
    if len(raw) != 32:
        raise MerkleError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def _normalise_account(account: str) -> str:
    if not isinstance(account, str) or not is_address(account):
        raise MerkleError(f"account {account!r} is not a 20-byte hex address")
    return account.lower()


def leaf_hash(account: str, cumulative: int) -> str:
    """The OpenZeppelin standard leaf of (account, cumulative) as 0x-hex."""
    return _hex(_leaf(_normalise_account(account), cumulative))


def _leaf(account: str, cumulative: int) -> bytes:
    if isinstance(cumulative, bool) or not isinstance(cumulative, int):
        raise MerkleError(f"cumulative of {account} must be an int, got {cumulative!r}")
    if not 0 <= cumulative <= _UINT256_MAX:
        raise MerkleError(f"cumulative of {account} out of uint256 range: {cumulative}")
    encoded = bytes(12) + bytes.fromhex(account[2:]) + cumulative.to_bytes(32, "big")
    return keccak(keccak(encoded))


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


@dataclass(frozen=True)
class MerkleTree:
    """A built tree: `.root`, `.proof(account)`, `.entries` (account -> cumulative)."""

    root: str
    entries: dict[str, int]
    _nodes: tuple[bytes, ...] = field(repr=False)
    _index: dict[str, int] = field(repr=False)

    @property
    def total(self) -> int:
        return sum(self.entries.values())

    def leaf(self, account: str) -> str:
        return _hex(self._nodes[self._tree_index(account)])

    def proof(self, account: str) -> list[str]:
        """Sibling hashes (0x-hex) from `account`'s leaf up to the root."""
        index = self._tree_index(account)
        proof: list[str] = []
        while index > 0:
            sibling = index + 1 if index % 2 == 1 else index - 1
            proof.append(_hex(self._nodes[sibling]))
            index = (index - 1) // 2
        return proof

    def _tree_index(self, account: str) -> int:
        key = _normalise_account(account)
        if key not in self._index:
            raise MerkleError(f"account {key} is not in the tree")
        return self._index[key]


def build_tree(entries: Iterable[tuple[str, int]]) -> MerkleTree:
    """Build the tree of (account, cumulative) entries; an account may appear once."""
    amounts: dict[str, int] = {}
    for account, cumulative in entries:
        key = _normalise_account(account)
        if key in amounts:
            raise MerkleError(f"account {key} appears twice")
        _leaf(key, cumulative)  # validates the amount
        amounts[key] = int(cumulative)
    if not amounts:
        return MerkleTree(root=ZERO_ROOT, entries={}, _nodes=(), _index={})

    hashed = sorted((_leaf(account, amount), account) for account, amount in amounts.items())
    n = len(hashed)
    nodes: list[bytes] = [b""] * (2 * n - 1)
    index: dict[str, int] = {}
    for i, (leaf, account) in enumerate(hashed):
        position = len(nodes) - 1 - i
        nodes[position] = leaf
        index[account] = position
    for i in range(len(nodes) - 1 - n, -1, -1):
        nodes[i] = _hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
    return MerkleTree(root=_hex(nodes[0]), entries=amounts, _nodes=tuple(nodes), _index=index)


def verify(root: str | bytes, leaf: str | bytes, proof: Sequence[str | bytes]) -> bool:
    """True when `proof` links `leaf` (a leaf hash) to `root` (sorted-pair hashing)."""
    computed = _bytes32(leaf, "leaf")
    for i, sibling in enumerate(proof):
        computed = _hash_pair(computed, _bytes32(sibling, f"proof[{i}]"))
    return computed == _bytes32(root, "root")
