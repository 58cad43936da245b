"""A small demo book on a real anvil, driven through the `aidnav` command line exactly as
an operator would: shared by the job-level tests of the blocking quality gates."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from web3 import Web3

from onchain.build import load_artifact
from onchain.testing import free_port

D1, D2, D3 = date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)
EPOCH = date(1970, 1, 1)
AIDNAV = str(Path(sys.executable).parent / "aidnav")
BALANCE_OF = [{"name": "balanceOf", "type": "function", "stateMutability": "view",
               "inputs": [{"name": "a", "type": "address"}],
               "outputs": [{"name": "", "type": "uint256"}]}]


def run_aidnav(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AIDNAV, *args], env=env, capture_output=True, text=True, timeout=600)


class Book:
    """Its own data directory, Dagster home and anvil port."""

    def __init__(self, root: Path):
        self.data = root / "data"
        self.warehouse = self.data / "warehouse.duckdb"
        self.env = {
            **os.environ,
            "AIDNAV_DATA_DIR": str(self.data),
            "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}",
            "DAGSTER_HOME": str(root / "dagster"),
            "AIDNAV_WAREHOUSE": str(self.warehouse),
            "GX_ANALYTICS_ENABLED": "false",
        }
        self.w3 = Web3(Web3.HTTPProvider(self.env["AIDNAV_RPC_URL"]))

    def make_demo(self) -> subprocess.CompletedProcess:
        """The 3-day demo book ending on D3, chain played, no day run yet."""
        return run_aidnav(["demo", "--no-run", "--days", "3", "--end-day", D3.isoformat(),
                           "--scale", "0.05"], self.env)

    def run(self, day: date) -> subprocess.CompletedProcess:
        return run_aidnav(["run", "--date", day.isoformat()], self.env)

    def chain_down(self) -> None:
        run_aidnav(["chain", "down"], self.env)

    def addresses(self, role: str) -> list[str]:
        rows = (self.data / "registry" / "addresses.csv").read_text().splitlines()
        return [r.split(",")[2].lower() for r in rows if f",{role}," in r]

    def latest_day(self) -> date | None:
        oracle = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.addresses("nav_oracle")[0]),
            abi=load_artifact("NavOracle")["abi"])
        number = oracle.functions.latestDay().call()
        return None if number == 0 else date.fromordinal(EPOCH.toordinal() + number)

    def last_block_before(self, moment: datetime) -> int:
        number = self.w3.eth.block_number
        while self.w3.eth.get_block(number)["timestamp"] >= moment.timestamp():
            number -= 1
        return number

    def usdc_balance(self, holder: str, block: int) -> int:
        usdc = self.w3.eth.contract(address=Web3.to_checksum_address(self.addresses("usdc")[0]),
                                    abi=BALANCE_OF)
        return usdc.functions.balanceOf(Web3.to_checksum_address(holder)).call(
            block_identifier=block)


@contextmanager
def book_with_d1_posted(root: Path,
                        before_d1: Callable[[Book], None] | None = None) -> Iterator[Book]:
    """The demo book on its own anvil with D1 run and posted (after `before_d1`, which may
    hold deliveries back); its anvil is stopped on the way out."""
    book = Book(root)
    made = book.make_demo()
    try:
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        if before_d1 is not None:
            before_d1(book)
        first = book.run(D1)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert book.latest_day() == D1
        yield book
    finally:
        book.chain_down()
