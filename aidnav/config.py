"""One place that decides paths and targets, from the environment.

Every setting has a documented default so that `make demo` works on a fresh machine.
Secrets are never read here: the signer key is read by `onchain.signer` at the moment
it is needed, and never stored on a settings object that could be logged.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# npm packages installed with the project: anvil, and the scripts of the offline pages
NODE_MODULES = REPO_ROOT / "node_modules"
# `aidnav ui`'s port unless --port (or `make ui PORT=...`) says otherwise: Dagster's own
UI_PORT = 3000

# the instance file the command line writes where DAGSTER_HOME has none
DAGSTER_INSTANCE_YAML = """\
# written by aidnav; storage stays under this folder (Dagster's defaults)
telemetry:
  enabled: false
nux:
  enabled: false
"""




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

    @property
    def run_log(self) -> Path:
        """Where a run's dbt and Dagster log goes when the command is not verbose."""
        return self.data_dir / "logs" / "runs.log"

    @property
    def rpc_port(self) -> int:
        from urllib.parse import urlparse

        return urlparse(self.rpc_url).port or 8545


def load_settings() -> Settings:
    data_dir = Path(os.getenv("AIDNAV_DATA_DIR", str(Path.cwd() / "data"))).expanduser()
    chain_id = os.getenv("AIDNAV_CHAIN_ID")
    return Settings(
        data_dir=data_dir.resolve(),
        rpc_url=os.getenv("AIDNAV_RPC_URL", "http://127.0.0.1:8545"),
        chain_id=int(chain_id) if chain_id else None,
    )


def prepare_environment(settings: Settings) -> None:
    """Environment shared by dbt and Dagster, derived from the one settings object."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIDNAV_DATA_DIR", str(settings.data_dir))
    os.environ.setdefault("AIDNAV_WAREHOUSE", str(settings.warehouse_path))
    os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir / "dagster"))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    # Dagster's defaults (storage under DAGSTER_HOME), without its "no dagster.yaml" warning,
    # its telemetry or its newsletter dialog; an operator's own instance file is kept
    instance_file = home / "dagster.yaml"
    if not instance_file.exists() or instance_file.stat().st_size == 0:  # none, or our empty one
        instance_file.write_text(DAGSTER_INSTANCE_YAML)
    if not sys.stdout.isatty():  # dbt's log without colour codes in a file or a pipe
        os.environ.setdefault("DBT_USE_COLORS", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
