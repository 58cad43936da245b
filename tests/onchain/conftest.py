"""A real anvil chain per test session (per xdist worker), on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from web3 import Web3

from onchain.deploy import ensure_deployed
from onchain.signer import Signer, anvil_test_signer
from onchain.testing import local_anvil

# Genesis time of the test chain: after every day of the worked example (2026-01-25 ..
# 2026-03-05), so those days have ended on chain whatever the machine's clock says.
GENESIS = datetime(2026, 3, 15, tzinfo=timezone.utc)
CHAIN_ID = 31337


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_anvil(tmp_path_factory.mktemp("anvil"), timestamp=int(GENESIS.timestamp())) as (
        rpc_url,
        _stop,
    ):
        yield rpc_url


@pytest.fixture(scope="session")
def w3(chain: str) -> Web3:
    return Web3(Web3.HTTPProvider(chain))


@pytest.fixture(scope="session")
def deployer() -> Signer:
    return anvil_test_signer(0)


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="session")
def deployed(w3: Web3, deployer: Signer, registry_dir: Path) -> dict[str, str]:
    return ensure_deployed(w3, deployer, registry_dir, CHAIN_ID)
