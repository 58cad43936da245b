"""Read the sAID share price the way a lending market does: Chainlink's
AggregatorV3Interface (`decimals`, `latestRoundData`), nothing aidnav-specific.

    python -m onchain.read_price --rpc-url http://127.0.0.1:8545 --feed 0x...
prints `roundId answer decimals updatedAt` and the price as a decimal; exit status 1
when the feed has no data or its last update is older than `--max-age-s`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from decimal import Decimal

from web3 import Web3

# the standard interface only: what an outside consumer has
AGGREGATOR_V3_ABI = [
    {"type": "function", "name": "decimals", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
    {"type": "function", "name": "description", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "string"}]},
    {"type": "function", "name": "latestRoundData", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "roundId", "type": "uint80"}, {"name": "answer", "type": "int256"},
                 {"name": "startedAt", "type": "uint256"},
                 {"name": "updatedAt", "type": "uint256"},
                 {"name": "answeredInRound", "type": "uint80"}]},
]


class StalePrice(RuntimeError):
    """The feed's last update is too old, or its answer is not positive."""


@dataclass(frozen=True)
class FeedPrice:
    round_id: int
    answer: int
    decimals: int
    updated_at: int

    @property
    def price(self) -> Decimal:
        return Decimal(self.answer) / (Decimal(10) ** self.decimals)


def read_price(w3: Web3, feed_address: str, max_age_s: int | None = None,
               now: int | None = None) -> FeedPrice:
    feed = w3.eth.contract(address=Web3.to_checksum_address(feed_address),
                           abi=AGGREGATOR_V3_ABI)
    round_id, answer, _started, updated_at, answered_in = feed.functions.latestRoundData().call()
    decimals = int(feed.functions.decimals().call())
    if answer <= 0 or answered_in < round_id:
        raise StalePrice(f"feed {feed_address}: answer {answer} in round {round_id} is not usable")
    if max_age_s is not None:
        current = int(time.time()) if now is None else now
        if current - int(updated_at) > max_age_s:
            raise StalePrice(f"feed {feed_address}: last update {updated_at} is older than "
                             f"{max_age_s}s")
    return FeedPrice(int(round_id), int(answer), decimals, int(updated_at))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--feed", required=True, help="NavOracle address")
    parser.add_argument("--max-age-s", type=int, default=None)
    args = parser.parse_args(argv)
    w3 = Web3(Web3.HTTPProvider(args.rpc_url))
    try:
        price = read_price(w3, args.feed, args.max_age_s,
                           now=int(w3.eth.get_block("latest")["timestamp"]))
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{price.round_id} {price.answer} {price.decimals} {price.updated_at} {price.price}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
