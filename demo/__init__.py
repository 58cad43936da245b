"""Synthetic books: the demo portfolio (a realistic 30-day book of GPU and robot financings,
written as the registry and landing files of DATA_CONTRACTS.md and played on a local chain)
and the benchmark fleets of `demo.bench`."""

from demo.book import DemoBook
from demo.chain_driver import ChainScenarioResult, drive_chain
from demo.chain_plan import genesis_timestamp
from demo.generate import build_book, generate_offchain

__all__ = ["ChainScenarioResult", "DemoBook", "build_book", "drive_chain", "generate_offchain",
           "genesis_timestamp"]
