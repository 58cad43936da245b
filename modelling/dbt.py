"""How dbt is invoked on the warehouse, for the daily job and for replay alike: the project
and profiles folders, the arguments and environment of a window of days, and the manifest
with its freshness rule. No Dagster here: `orchestration/` wires these into its resource
and its dbt asset; `modelling.replay` runs them in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from aidnav.config import load_settings

# AIDNAV_DBT_PROJECT_DIR (the settings' dbt_project_dir) runs dbt on another copy of the
# project (its own profiles.yml and target/), e.g. a patched copy in a test; default: the
# repository's. Read at import.
DBT_PROJECT_DIR = load_settings().dbt_project_dir
# profiles.yml sits beside dbt_project.yml
DBT_PROFILES_DIR = DBT_PROJECT_DIR
# where `dbt parse` writes the manifest, relative to the project (dbt's default target path)
MANIFEST_RELATIVE = Path("target") / "manifest.json"

# The window in the environment instead of `--vars`: dbt parses the whole project again
# whenever `--vars` changes (about 4 s a run on a small machine); an environment variable
# that changes only re-parses the files that read it (dbt_project/macros/window.sql).
WINDOW_ENV = {"start_date": "AIDNAV_START_DATE", "end_date": "AIDNAV_END_DATE"}


def dbt_executable() -> str:
    """The environment's own dbt beside this Python, else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def dbt_window_env(start: date | None, end: date | None) -> dict[str, str]:
    """AIDNAV_START_DATE / AIDNAV_END_DATE for a window (empty string: project default)."""
    return {WINDOW_ENV["start_date"]: start.isoformat() if start else "",
            WINDOW_ENV["end_date"]: end.isoformat() if end else ""}


def dbt_build_args(start: date | None, end: date | None, select: str | None = None,
                   target_path: str | None = None, *, with_project: bool = True) -> list[str]:
    """The `dbt build` arguments for a window of days as `--vars` (None: the project
    default). `with_project`: name the project and profiles folders (a caller that runs dbt
    from inside the project, as the job's dbt resource does, leaves them out)."""
    dbt_vars: dict[str, str] = {}
    if start is not None:
        dbt_vars["start_date"] = start.isoformat()
    if end is not None:
        dbt_vars["end_date"] = end.isoformat()
    args = ["build"]
    if with_project:
        args += ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROFILES_DIR)]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    if select:
        args += ["--select", select]
    if target_path:
        args += ["--target-path", target_path]
    return args


def dbt_build_invocation(start: date | None, end: date | None, *, window_in_vars: bool = False,
                         select: str | None = None, target_path: str | None = None,
                         with_project: bool = False) -> tuple[list[str], dict[str, str]]:
    """The dbt CLI arguments and environment that build a window of days (inclusive).

    The window travels in the environment (partial parsing stays valid between runs of
    different days), or as `--vars` when `window_in_vars` (what a CLI user or a scheduler
    passes), the environment's window then left empty so that it cannot contradict them.
    """
    if start is not None and end is not None and end < start:
        raise ValueError(f"end {end} is before start {start}")
    if window_in_vars:
        return (dbt_build_args(start, end, select, target_path, with_project=with_project),
                dbt_window_env(None, None))
    return (dbt_build_args(None, None, select, target_path, with_project=with_project),
            dbt_window_env(start, end))


def manifest_path(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    return Path(project_dir) / MANIFEST_RELATIVE


def project_sources(project_dir: Path) -> list[Path]:
    """The files a dbt parse reads: the project and profile files, models, macros, tests."""
    project_dir = Path(project_dir)
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return [p for p in files if p.exists()]


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Whether the manifest is missing or older than a file of the project."""
    manifest = manifest_path(project_dir)
    if not manifest.exists():
        return True
    parsed_at = manifest.stat().st_mtime
    return any(p.stat().st_mtime > parsed_at for p in project_sources(project_dir))


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR,
                    profiles_dir: Path | None = None) -> Path:
    """The project's manifest, parsed again where `make install` has not parsed it yet, or
    where a model, macro or test changed since (a pull that adds a model would otherwise
    fail the run on a manifest that does not know it). Called when the definitions are
    loaded, never when a module is imported."""
    project_dir = Path(project_dir)
    if manifest_is_stale(project_dir):
        subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--profiles-dir",
             str(profiles_dir or project_dir)],
            cwd=project_dir,
            check=True,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )
    return manifest_path(project_dir)
