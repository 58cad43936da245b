"""One place that decides paths and targets, from the environment.

Every setting has a documented default so that `make demo` works on a fresh machine.
Secrets are never read here: the signer key is read by `onchain.signer` at the moment
it is needed, and never stored on a settings object that could be logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# npm packages installed with the project: anvil, and the scripts of the offline pages
NODE_MODULES = REPO_ROOT / "node_modules"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    rpc_url: str
    chain_id: int | None

    @property
    def registry_dir(self) -> Path:
        return self.data_dir / "registry"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def chain_dir(self) -> Path:
        return self.data_dir / "chain"


def load_settings() -> Settings:
    data_dir = Path(os.getenv("AIDNAV_DATA_DIR", str(Path.cwd() / "data"))).expanduser()
    chain_id = os.getenv("AIDNAV_CHAIN_ID")
    return Settings(
        data_dir=data_dir.resolve(),
        rpc_url=os.getenv("AIDNAV_RPC_URL", "http://127.0.0.1:8545"),
        chain_id=int(chain_id) if chain_id else None,
    )
