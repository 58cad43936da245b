"""The demo portfolio: a realistic 30-day book of GPU and robot financings, written as the
registry and landing files of DATA_CONTRACTS.md, and played on a local chain."""

from aidnav.demo.book import DemoBook
from aidnav.demo.chain_driver import ChainScenarioResult, drive_chain
from aidnav.demo.chain_plan import genesis_timestamp
from aidnav.demo.generate import build_book, generate_offchain

__all__ = ["ChainScenarioResult", "DemoBook", "build_book", "drive_chain", "generate_offchain",
           "genesis_timestamp"]
