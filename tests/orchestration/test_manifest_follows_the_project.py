"""The dbt manifest the Dagster assets are built from follows the project: a model added
after the last parse is in the manifest the next time the code location loads."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from aidnav.config import REPO_ROOT
from modelling.dbt import ensure_manifest


def test_a_model_added_after_the_parse_is_parsed_in(tmp_path: Path, monkeypatch):
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    monkeypatch.setenv("AIDNAV_WAREHOUSE", str(tmp_path / "w.duckdb"))
    manifest = ensure_manifest(project)
    assert "model.aidnav.fct_nav_daily" in json.loads(manifest.read_text())["nodes"]
    parsed_at = manifest.stat().st_mtime

    assert ensure_manifest(project).stat().st_mtime == parsed_at  # nothing changed: no parse

    time.sleep(0.05)
    new_model = project / "models" / "marts" / "fct_added_later.sql"
    new_model.write_text("select 1 as one\n")
    later = parsed_at + 1
    os.utime(new_model, (later, later))
    nodes = json.loads(ensure_manifest(project).read_text())["nodes"]
    assert "model.aidnav.fct_added_later" in nodes
