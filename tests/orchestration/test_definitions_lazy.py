"""Importing the code location never runs dbt: the manifest is made sure of (parsed when
missing or stale) when the definitions are loaded, as `dagster dev` loads them, and every
dbt model is then an asset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from aidnav.config import REPO_ROOT

SCRIPT = """
import json, os, sys
from pathlib import Path
manifest = Path(os.environ["AIDNAV_DBT_PROJECT_DIR"]) / "target" / "manifest.json"
import orchestration.definitions as location
after_import = manifest.exists()
from dagster._core.workspace.autodiscovery import loadable_targets_from_loaded_module
[target] = loadable_targets_from_loaded_module(location)
keys = sorted(k.to_user_string() for k in target.target_definition.resolve_all_asset_keys())
print(json.dumps({"after_import": after_import, "attribute": target.attribute,
                  "after_load": manifest.exists(), "keys": keys}))
"""


def test_import_parses_nothing_and_loading_the_location_parses_a_missing_manifest(tmp_path: Path):
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = {**os.environ, "AIDNAV_DBT_PROJECT_DIR": str(project),
           "AIDNAV_DATA_DIR": str(tmp_path / "data"),
           "AIDNAV_WAREHOUSE": str(tmp_path / "data" / "warehouse.duckdb"),
           "DAGSTER_HOME": str(tmp_path / "dagster")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["after_import"] is False          # no manifest yet: the import parsed nothing
    assert seen["attribute"] == "defs"            # what `dagster dev -m ...` finds
    assert seen["after_load"] is True             # loading the location parsed it
    for key in ("marts/fct_nav_daily", "marts/fct_rewards_roots_daily", "raw/invoices",
                "onchain/daily_publication"):
        assert key in seen["keys"], key
