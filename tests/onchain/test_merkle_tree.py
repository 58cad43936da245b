"""The OpenZeppelin standard Merkle tree, checked against the worked example's 40 roots."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from onchain.merkle import ZERO_ROOT, MerkleError, build_tree, leaf_hash, verify

ALICE = "0xa11ce00000000000000000000000000000000001"
BOB = "0xb0b0000000000000000000000000000000000002"
CAROL = "0xca10100000000000000000000000000000000003"


def _oz_leaf(account: str, amount: int) -> bytes:
    # written from the OpenZeppelin definition with eth_abi, independently of onchain.merkle
    return keccak(keccak(encode(["address", "uint256"], [account, amount])))


def _daily_entries(expected: Path) -> dict[str, list[tuple[str, int]]]:
    days: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with open(expected / "fct_staker_rewards_daily.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if int(row["cumulative_wei"]) > 0:
                days[row["day"]].append((row["account"], int(row["cumulative_wei"])))
    return days


def test_worked_example_roots(worked_example_expected: Path) -> None:
    entries = _daily_entries(worked_example_expected)
    with open(worked_example_expected / "rewards_roots.csv", newline="") as fh:
        expected = list(csv.DictReader(fh))
    assert len(expected) == 40
    for row in expected:
        tree = build_tree(entries.get(row["day"], []))
        assert tree.root == row["root"], row["day"]
        assert tree.total == int(row["total_cumulative_wei"]), row["day"]
        assert len(tree.entries) == int(row["accounts"]), row["day"]
        for account in tree.entries:
            assert verify(tree.root, tree.leaf(account), tree.proof(account))


def test_leaf_is_the_double_hashed_abi_encoding() -> None:
    assert leaf_hash(ALICE, 5 * 10**21) == "0x" + _oz_leaf(ALICE, 5 * 10**21).hex()
    # checksummed input gives the same leaf; the tree stores lower-case accounts
    checksummed = "0xA11CE00000000000000000000000000000000001"
    assert leaf_hash(checksummed, 7) == leaf_hash(ALICE, 7)


def test_small_trees_by_hand() -> None:
    one = build_tree([(ALICE, 10)])
    assert one.root == "0x" + _oz_leaf(ALICE, 10).hex() and one.proof(ALICE) == []

    a, b = _oz_leaf(ALICE, 10), _oz_leaf(BOB, 20)
    two = build_tree([(BOB, 20), (ALICE, 10)])
    assert two.root == "0x" + keccak(min(a, b) + max(a, b)).hex()
    assert two.proof(ALICE) == ["0x" + b.hex()]

    # three leaves sorted by hash h0 <= h1 <= h2: OpenZeppelin's array tree puts the
    # leaves at the end in reverse order, [root, n1, h2, h1, h0], with n1 = H(h1, h0)
    # and root = H(n1, h2)
    def pair(x: bytes, y: bytes) -> bytes:
        return keccak(min(x, y) + max(x, y))

    h0, h1, h2 = sorted([a, b, _oz_leaf(CAROL, 30)])
    three = build_tree([(ALICE, 10), (BOB, 20), (CAROL, 30)])
    assert three.root == "0x" + pair(pair(h1, h0), h2).hex()


def test_empty_tree_root_is_zero() -> None:
    assert build_tree([]).root == ZERO_ROOT == "0x" + "0" * 64


def test_forged_proof_does_not_verify() -> None:
    tree = build_tree([(ALICE, 10), (BOB, 20), (CAROL, 30)])
    assert not verify(tree.root, leaf_hash(ALICE, 11), tree.proof(ALICE))
    assert not verify(tree.root, leaf_hash(ALICE, 10), tree.proof(BOB))


def test_bad_entries_are_rejected() -> None:
    with pytest.raises(MerkleError, match="appears twice"):
        build_tree([(ALICE, 1), (ALICE.upper().replace("0X", "0x"), 2)])
    with pytest.raises(MerkleError, match="not a 20-byte hex address"):
        build_tree([("0x1234", 1)])
    with pytest.raises(MerkleError, match="uint256"):
        build_tree([(ALICE, -1)])
    with pytest.raises(MerkleError, match="not in the tree"):
        build_tree([(ALICE, 1)]).proof(BOB)
