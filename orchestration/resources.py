"""Resources, configured from the environment; one place decides targets and paths."""


import functools
import importlib.metadata
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version
from pydantic import Field, PrivateAttr

from aidnav.config import Settings, load_settings
from ingestion.registry import Registry
from modelling.dbt import DBT_PROFILES_DIR, DBT_PROJECT_DIR, dbt_executable


class WarehouseResource(dg.ConfigurableResource):
    """The data directory, its DuckDB warehouse and its telemetry lake, whose tasks run on
    the Dask cluster at `dask_scheduler` (`tcp://host:port`; empty: in this process)."""

    data_dir: str
    dask_scheduler: str | None = Field(
        default=None, description="the Dask scheduler the GPU telemetry's tasks run on "
        "(tcp://host:port); empty: in the run's own process; unset: AIDNAV_DASK_SCHEDULER")

    def settings(self) -> Settings:
        # this resource's data directory and Dask scheduler, every other setting
        # (AIDNAV_WAREHOUSE included: the file dbt writes) as configured
        settings = replace(load_settings(), data_dir=Path(self.data_dir))
        if self.dask_scheduler is not None:
            settings = replace(settings, dask_scheduler=self.dask_scheduler or None)
        return settings

    def connect(self) -> duckdb.DuckDBPyConnection:
        from ingestion.warehouse import connect

        return connect(self.settings().warehouse_path)

    # One run at a time writes the warehouse: taken when the run's resources are set up,
    # held through every step (the dbt child included), given back at teardown.
    _run_lock: int | None = PrivateAttr(default=None)

    # The run's registry, parsed once a run: the `registry` asset validates it and loads it
    # into raw (`load_registry`), every later step of the run takes it from here.
    _registry: Registry | None = PrivateAttr(default=None)

    def load_registry(self, con: duckdb.DuckDBPyConnection) -> Registry:
        """Validate the registry CSVs, replace the raw registry tables with them, and keep
        the parsed registry for the rest of the run."""
        from ingestion.registry import load_registry

        self._registry = load_registry(con, self.settings().registry_dir)
        return self._registry

    def registry(self, con: duckdb.DuckDBPyConnection) -> Registry:
        """The run's registry: the one the `registry` asset loaded, or, in a run without
        that asset, loaded here once (as that asset would)."""
        return self._registry if self._registry is not None else self.load_registry(con)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from ingestion.warehouse import acquire_run_lock

        self._registry = None
        run_id = context.run_id
        if run_id is None:  # a sensor's or a schedule's evaluation: it only reads
            return
        settings = self.settings()
        self._run_lock = acquire_run_lock(
            settings.warehouse_path, f"run {run_id}", settings.warehouse_wait_s,
            on_wait=lambda other: context.log.warning(
                f"waiting for the warehouse: taken by {other}"))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        from ingestion.warehouse import release_run_lock

        if self._run_lock is not None:
            release_run_lock(self._run_lock)
            self._run_lock = None
        self._registry = None


class ChainResource(dg.ConfigurableResource):
    """The RPC endpoint the chain events are read from and the publications sent to."""

    rpc_url: str

    def web3(self):
        from web3 import Web3

        return Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))


class SignerResource(dg.ConfigurableResource):
    """The publisher's key material, as Dagster `EnvVar`s: the run's configuration names the
    variables, never their values. `onchain.signer.load_signer` applies its rules to it."""

    signer_key: str | None = None
    keystore: str | None = None
    keystore_password: str | None = None

    def env(self) -> dict[str, str]:
        """The configured variables, as `load_signer(chain_id, env)` reads them."""
        from onchain.signer import ENV_KEY, ENV_KEYSTORE, ENV_KEYSTORE_PASSWORD

        values = {ENV_KEY: self.signer_key, ENV_KEYSTORE: self.keystore,
                  ENV_KEYSTORE_PASSWORD: self.keystore_password}
        return {name: value for name, value in values.items() if value is not None}


def signer_resource() -> SignerResource:
    """An `EnvVar` for each signer variable set when the code location loads (Dagster
    refuses a run whose `EnvVar` is unset: with none set, the anvil test key on 31337)."""
    from onchain.signer import ENV_KEY, ENV_KEYSTORE, ENV_KEYSTORE_PASSWORD

    fields = {"signer_key": ENV_KEY, "keystore": ENV_KEYSTORE,
              "keystore_password": ENV_KEYSTORE_PASSWORD}
    return SignerResource(**{field: dg.EnvVar(name) for field, name in fields.items()
                             if name in os.environ})


class DbtResource(DbtCliResource):
    """dagster-dbt's resource, less two things it does before every `dbt build` that the
    daily job never uses, about 5 s a run between them on this machine:

    - it runs `dbt --version` (a whole dbt start-up) to learn the version of the executable:
      when that executable is this environment's own, the version is the installed
      dbt-core's;
    - it loads the project and a DuckDB adapter in this process, for `fetch_row_counts` and
      `fetch_column_metadata`, which the dbt asset does not call.
    """

    @functools.cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable) == Path(dbt_executable()) and Path(
                self.dbt_executable).is_absolute():
            return Version(importlib.metadata.version("dbt-core"))
        return DbtCliResource._cli_version.func(self)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


settings = load_settings()
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

# the project as dagster-dbt sees it; its manifest is made sure of (`modelling.dbt`) when
# the dbt asset is built, not here: importing the code location never runs dbt
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROFILES_DIR)

RESOURCES = {
    "warehouse": WarehouseResource(data_dir=str(settings.data_dir),
                                   dask_scheduler=settings.dask_scheduler or ""),
    "chain": ChainResource(rpc_url=settings.rpc_url),
    "signer": signer_resource(),
    "dbt": DbtResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
}
