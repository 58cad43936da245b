"""One place that decides paths and targets, from the environment.

VARIABLES lists every environment variable aidnav reads, with its default and meaning (the
README's configuration table is generated from it). Every setting has a default so that
`make demo` works on a fresh machine. Secrets are listed but never read here: the signer
key is read by `onchain.signer` at the moment it is needed (in Dagster through
`dg.EnvVar`), and never stored on a settings object that could be logged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
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

# ------------------------------------------------------------------ every variable, once
# The one list of the environment variables aidnav reads: name, default, meaning. The
# README's configuration table is this list (tests/test_settings_documented.py holds them
# equal). `Settings` has a field for every setting; a secret is listed here but never
# stored on it: it is read where it is used (onchain.signer, ingestion.nvml.agent,
# deploy/dagster.yaml), and in Dagster through `dg.EnvVar` (orchestration.resources).

DEFAULT_PARTITIONS_START = "2025-01-01"  # the first day the UI offers without a registry


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # the value when unset or empty; None: none (or `shown` says)
    meaning: str
    secret: bool = False  # read only where needed, never on Settings
    per_run: bool = False  # set by aidnav for each dbt invocation, not a setting
    shown: str | None = None  # the README's default where it is not the plain value

    @property
    def documented_default(self) -> str:
        if self.shown is not None:
            return self.shown
        return "unset" if self.default is None else f"`{self.default}`"


VARIABLES: tuple[Variable, ...] = (
    Variable("AIDNAV_DATA_DIR", "./data",
             "registry, landing, warehouse, reports, chain state"),
    Variable("AIDNAV_RPC_URL", "http://127.0.0.1:8545", "the chain read and posted to"),
    Variable("AIDNAV_CHAIN_ID", None,
             "the chain id `AIDNAV_RPC_URL` is expected on; unset: the one its node reports"),
    Variable("AIDNAV_CHAIN_TARGETS", None,
             "every chain each day is posted to, as `rpc_url=chain_id` pairs separated by "
             "commas, e.g. `http://127.0.0.1:8545=31337,http://127.0.0.1:8546=31338`; each "
             "gets the same reports through its own pre-flight and its own "
             "`marts.publications` row; a chain that is down misses the day (the run's "
             "summary names chain and day, its rows stay `pending`) and the next run posts "
             "its pending days first, in day order; `aidnav chain up` and `make demo` start "
             "and deploy to every `127.0.0.1` target, each with its own chain id",
             shown="the one `AIDNAV_RPC_URL`"),
    Variable("AIDNAV_SIGNER_KEY", None, "publisher key (hex). Never logged or printed.",
             secret=True),
    Variable("AIDNAV_KEYSTORE", None,
             "an encrypted keystore file instead of the key", secret=True),
    Variable("AIDNAV_KEYSTORE_PASSWORD", None, "the password of `AIDNAV_KEYSTORE`",
             secret=True),
    Variable("AIDNAV_REWARDS_TIMELOCK_S", "0",
             "seconds between a rewards root's proposal and its acceptance, fixed in "
             "RewardsDistributor when it is deployed; 0 (the demo): claimable when posted"),
    Variable("AIDNAV_WAREHOUSE", None,
             "the DuckDB warehouse: written by the loaders and dbt, read by the checks, the "
             "publisher and the command line",
             shown="`$AIDNAV_DATA_DIR/warehouse.duckdb`"),
    Variable("AIDNAV_LAKE_URL", None,
             "the telemetry lake: a folder or an fsspec URL (`s3://…`)",
             shown="`$AIDNAV_DATA_DIR/lake`"),
    Variable("AIDNAV_DASK_SCHEDULER", None,
             "the Dask scheduler (`tcp://host:port`) the telemetry lake is written on; "
             "unset: in this process"),
    Variable("AIDNAV_PARTITIONS_START", None, "first day the Dagster UI offers",
             shown=f"the registry's inception, else `{DEFAULT_PARTITIONS_START}`"),
    Variable("DAGSTER_HOME", None, "run history shared by `aidnav run` and `make ui`",
             shown="`$AIDNAV_DATA_DIR/dagster`"),
    Variable("AIDNAV_DAGSTER_POSTGRES_URL", None,
             "Dagster's storage in PostgreSQL, read by `deploy/dagster.yaml` once it is "
             "`$DAGSTER_HOME/dagster.yaml` (see \"Production\"); it carries the password",
             secret=True),
    Variable("AIDNAV_DBT_PROJECT_DIR", None,
             "the dbt project the daily job and the replay build (a copy keeps its own "
             "`target/`)", shown="`./dbt_project`"),
    Variable("AIDNAV_DUCKDB_MEMORY_LIMIT", "2GB",
             "DuckDB's memory ceiling in dbt and in the loaders; above it DuckDB spills to "
             "disk"),
    Variable("AIDNAV_WAREHOUSE_WAIT_S", "3600",
             "how long a run waits for the warehouse while another run holds it"),
    Variable("AIDNAV_START_DATE", None,
             "first day a dbt build rewrites (ISO date); set by the daily job and the replay "
             "for each build; unset: the inception", per_run=True),
    Variable("AIDNAV_END_DATE", None,
             "last day of the books of a dbt build (ISO date); set by the daily job and the "
             "replay for each build; unset: yesterday (UTC)", per_run=True),
    Variable("AIDNAV_AGENT_KEYSTORE_PASSWORD", None,
             "the password of a GPU node agent's keystore (`aidnav agent nvml --key-file`)",
             secret=True),
)
VARIABLE = {v.name: v for v in VARIABLES}


def settings_table() -> str:
    """The README's configuration table, from VARIABLES."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.documented_default} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(rows) + "\n"


def _read(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, else its listed default (an empty value counts as unset)."""
    value = env.get(name, "").strip()
    return value or VARIABLE[name].default


def _whole(env: Mapping[str, str], name: str, unit: str = "") -> int:
    text = _read(env, name) or ""
    if not text.isdigit():
        raise ValueError(f"{name}={text!r}: expected a whole number{unit}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str) -> float:
    text = _read(env, name) or ""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ValueError(f"{name}={text!r}: expected a number of seconds, 0 or more")
    return value


@dataclass(frozen=True)
class Settings:
    """Every setting of VARIABLES that is not a secret, as `load_settings` reads them. The
    fields after `chain_id` default to the list's defaults, so that a test or the benchmark
    can build one for another data directory from three values."""

    data_dir: Path
    rpc_url: str
    chain_id: int | None
    chain_targets: str = ""  # AIDNAV_CHAIN_TARGETS as given (onchain.targets parses it)
    warehouse: Path | None = None  # AIDNAV_WAREHOUSE; None: in the data directory
    lake: str | None = None  # AIDNAV_LAKE_URL; None: in the data directory
    dask_scheduler: str | None = None  # None: in this process
    partitions_start: str | None = None  # None: the registry's inception
    dagster_home: Path | None = None  # None: in the data directory
    dbt_project_dir: Path = REPO_ROOT / "dbt_project"
    duckdb_memory_limit: str = VARIABLE["AIDNAV_DUCKDB_MEMORY_LIMIT"].default or ""
    warehouse_wait_s: float = float(VARIABLE["AIDNAV_WAREHOUSE_WAIT_S"].default or 0)
    rewards_timelock_s: int = int(VARIABLE["AIDNAV_REWARDS_TIMELOCK_S"].default or 0)

    @property
    def registry_dir(self) -> Path:
        return self.data_dir / "registry"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        """The one warehouse file: the loaders, dbt (through `dbt_environment`), the checks,
        the publisher and the command line all open this one."""
        return self.warehouse or self.data_dir / "warehouse.duckdb"

    @property
    def lake_url(self) -> str:
        return self.lake or str(self.data_dir / "lake")

    @property
    def dagster_home_dir(self) -> Path:
        return self.dagster_home or self.data_dir / "dagster"

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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from `env` (default: the process environment), each variable's default
    from VARIABLES. A malformed number is refused here, in one line naming the variable."""
    env = os.environ if env is None else env

    def path(name: str) -> Path | None:
        value = _read(env, name)
        return Path(value).expanduser().resolve() if value else None

    data_dir = path("AIDNAV_DATA_DIR")
    assert data_dir is not None  # it has a default
    chain_id = _read(env, "AIDNAV_CHAIN_ID")
    return Settings(
        data_dir=data_dir,
        rpc_url=_read(env, "AIDNAV_RPC_URL") or "",
        chain_id=_whole(env, "AIDNAV_CHAIN_ID") if chain_id else None,
        chain_targets=_read(env, "AIDNAV_CHAIN_TARGETS") or "",
        warehouse=path("AIDNAV_WAREHOUSE"),
        lake=_read(env, "AIDNAV_LAKE_URL"),
        dask_scheduler=_read(env, "AIDNAV_DASK_SCHEDULER"),
        partitions_start=_read(env, "AIDNAV_PARTITIONS_START"),
        dagster_home=path("DAGSTER_HOME"),
        dbt_project_dir=path("AIDNAV_DBT_PROJECT_DIR") or REPO_ROOT / "dbt_project",
        duckdb_memory_limit=_read(env, "AIDNAV_DUCKDB_MEMORY_LIMIT") or "",
        warehouse_wait_s=_seconds(env, "AIDNAV_WAREHOUSE_WAIT_S"),
        rewards_timelock_s=_whole(env, "AIDNAV_REWARDS_TIMELOCK_S", " of seconds"),
    )


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What dbt reads from the environment (dbt_project/profiles.yml), from the settings:
    dbt writes the very file the Python side opens, under the same memory ceiling."""
    return {"AIDNAV_WAREHOUSE": str(settings.warehouse_path),
            "AIDNAV_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit}


def prepare_environment(settings: Settings) -> None:
    """Environment shared by dbt and Dagster, derived from the one settings object."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # the settings' values, absolute, for the processes started from here (dbt, Dagster):
    # a relative AIDNAV_WAREHOUSE would otherwise name another file from dbt's folder
    os.environ["AIDNAV_DATA_DIR"] = str(settings.data_dir)
    os.environ.update(dbt_environment(settings))
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home_dir)
    home = settings.dagster_home_dir
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
