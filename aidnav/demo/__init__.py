"""The demo portfolio: a realistic 30-day book of GPU and robot financings, written as the
registry and landing files of DATA_CONTRACTS.md, and played on a local chain."""

from aidnav.demo.book import DemoBook
from aidnav.demo.generate import build_book, generate_offchain

__all__ = ["DemoBook", "build_book", "generate_offchain"]
