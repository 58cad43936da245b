"""The settings reach every consumer: AIDNAV_WAREHOUSE names one file for the Python side
(the run's resource, the command line) and for dbt; the publisher's key reaches Dagster as
an `EnvVar`, by name, never by value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from aidnav.config import REPO_ROOT, load_settings, prepare_environment
from onchain.signer import load_signer
from orchestration.resources import SignerResource, WarehouseResource, signer_resource

# anvil's published test account #1 (Foundry's documentation)
ANVIL_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ANVIL_1_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
# ... and #0, what the local chain falls back to without a key
ANVIL_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

TOUCHED = ("AIDNAV_DATA_DIR", "AIDNAV_WAREHOUSE", "AIDNAV_DUCKDB_MEMORY_LIMIT", "DAGSTER_HOME",
           "DBT_USE_COLORS", "DBT_SEND_ANONYMOUS_USAGE_STATS", "GX_ANALYTICS_ENABLED")


def test_warehouse_elsewhere_is_one_file_for_python_and_dbt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOUCHED:  # prepare_environment writes them: given back after the test
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIDNAV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIDNAV_WAREHOUSE", "elsewhere/books.duckdb")  # relative to here
    expected = tmp_path / "elsewhere" / "books.duckdb"

    settings = load_settings()
    assert settings.warehouse_path == expected
    prepare_environment(settings)
    assert os.environ["AIDNAV_WAREHOUSE"] == str(expected)  # absolute: dbt runs elsewhere

    # the run's resource (loaders, checks, publisher) opens it and writes a mark
    resource = WarehouseResource(data_dir=str(tmp_path / "data"))
    assert resource.settings().warehouse_path == expected
    con = resource.connect()
    con.execute("create table raw.mark as select 42 as answer")
    con.close()

    # dbt, from its own folder with the exported environment, connects to the same file
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run(
        [str(dbt), "debug", "--project-dir", str(REPO_ROOT / "dbt_project"),
         "--profiles-dir", str(REPO_ROOT / "dbt_project"), "--log-path", str(tmp_path / "logs")],
        cwd=REPO_ROOT / "dbt_project", env=dict(os.environ), capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert str(expected) in done.stdout  # dbt debug prints the profile's path
    assert sorted(tmp_path.rglob("*.duckdb")) == [expected]  # no second warehouse anywhere
    with duckdb.connect(str(expected), read_only=True) as con:
        assert con.execute("select answer from raw.mark").fetchone() == (42,)


@dg.asset
def signer_address(signer: SignerResource) -> str:
    """The publisher's address, as the publication asset loads its signer."""
    return load_signer(1 if signer.env() else 31337, signer.env()).address


def _materialize_signer(resource: SignerResource) -> str:
    result = dg.materialize([signer_address], resources={"signer": resource})
    assert result.success
    return result.output_for_node("signer_address")


def test_publisher_key_reaches_dagster_as_an_envvar(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.assets.publishing import daily_publication

    assert "signer" in daily_publication.required_resource_keys
    for name in ("AIDNAV_SIGNER_KEY", "AIDNAV_KEYSTORE", "AIDNAV_KEYSTORE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIDNAV_SIGNER_KEY", ANVIL_1_KEY)
    resource = signer_resource()
    shown = repr(resource)
    assert "AIDNAV_SIGNER_KEY" in shown and ANVIL_1_KEY not in shown.lower()
    assert _materialize_signer(resource) == ANVIL_1

    # none configured: no EnvVar to refuse the run; the local chain's test key, as before
    monkeypatch.delenv("AIDNAV_SIGNER_KEY")
    assert _materialize_signer(signer_resource()) == ANVIL_0
