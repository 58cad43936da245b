"""Resources, configured from the environment; one place decides targets and paths."""


import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from pydantic import PrivateAttr

from aidnav.config import Settings, dbt_environment, load_settings

# AIDNAV_DBT_PROJECT_DIR runs the job against another copy of the dbt project (its own
# profiles.yml and target/), e.g. a patched copy in a test; default: the repository's.
DBT_PROJECT_DIR = load_settings().dbt_project_dir


class WarehouseResource(dg.ConfigurableResource):
    """The data directory and its DuckDB warehouse."""

    data_dir: str

    def settings(self) -> Settings:
        # this resource's data directory, every other setting (AIDNAV_WAREHOUSE included:
        # the file dbt writes) as configured
        return replace(load_settings(), data_dir=Path(self.data_dir))

    def connect(self) -> duckdb.DuckDBPyConnection:
        from ingestion.warehouse import connect

        return connect(self.settings().warehouse_path)

    # One run at a time writes the warehouse: taken when the run's resources are set up,
    # held through every step (the dbt child included), given back at teardown.
    _run_lock: int | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from ingestion.warehouse import acquire_run_lock

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


def _dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def _project_sources(project_dir: Path) -> list[Path]:
    """The files a dbt parse reads: the project and profile files, models, macros, tests."""
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return [p for p in files if p.exists()]


def ensure_manifest(project: DbtProject) -> Path:
    """`make install` parses the project; this parses it again where that has not run yet,
    or where a model, macro or test changed since (a pull that adds a model would
    otherwise fail the run on a manifest that does not know it)."""
    manifest = project.manifest_path
    stale = not manifest.exists() or any(
        p.stat().st_mtime > manifest.stat().st_mtime
        for p in _project_sources(Path(project.project_dir)))
    if stale:
        subprocess.run(
            [_dbt_executable(), "parse", "--quiet", "--profiles-dir", str(project.profiles_dir)],
            cwd=project.project_dir,
            check=True,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )
    return project.manifest_path


settings = load_settings()
os.environ.update(dbt_environment(settings))  # the dbt child writes the settings' warehouse
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
ensure_manifest(dbt_project)

RESOURCES = {
    "warehouse": WarehouseResource(data_dir=str(settings.data_dir)),
    "chain": ChainResource(rpc_url=settings.rpc_url),
    "signer": signer_resource(),
    "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=_dbt_executable()),
}
