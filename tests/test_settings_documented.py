"""One list of settings: the README's configuration table is `aidnav.config.VARIABLES`, that
list names every `AIDNAV_` variable the code reads, every setting on it reaches `Settings`,
and no secret does."""

from __future__ import annotations

import os
import re
from pathlib import Path

from aidnav.config import REPO_ROOT, VARIABLES, load_settings

README = REPO_ROOT / "README.md"
SECTION = "## Configuration (environment variables)\n"
NAME = re.compile(r"\bAIDNAV_[A-Z][A-Z0-9_]*")
# what the scan reads: code and the configuration dbt, make and Dagster read
SCANNED = {".py", ".sql", ".yml", ".yaml", ".toml", ".cfg", ".sh"}
NOT_SCANNED = {"tests", "node_modules", "data", "target", "dbt_packages", "logs", "__pycache__"}


def readme_rows() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) of each row of the README's configuration table."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"{README}: no '{SECTION.strip()}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[:2] == ["| variable | default | meaning |", "|---|---|---|"], lines[:2]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().removeprefix("|").removesuffix("|").split(" | ")]
        assert len(cells) == 3, f"{README}: row {line!r}: expected 3 cells"
        name, default, meaning = cells
        assert re.fullmatch(r"`[A-Z][A-Z0-9_]*`", name), f"{README}: row {line!r}: one `NAME`"
        rows.append((name.strip("`"), default, meaning))
    return rows


def names_read_by_the_code() -> dict[str, str]:
    """Every AIDNAV_ name in the sources outside tests/ and the list's own module, with one
    file that holds it."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in NOT_SCANNED and (d == ".ci" or d[0] != ".")]
        for file in files:
            path = Path(folder, file)
            if path.suffix not in SCANNED and file not in ("Makefile", "run"):
                continue
            if path == REPO_ROOT / "aidnav" / "config.py":
                continue
            for name in NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
                found.setdefault(name, str(path.relative_to(REPO_ROOT)))
    return found


def test_readme_table_is_the_list() -> None:
    listed = [(v.name, v.documented_default, v.meaning) for v in VARIABLES]
    assert readme_rows() == listed


def test_every_variable_the_code_reads_is_listed() -> None:
    listed = {v.name for v in VARIABLES}
    unlisted = {n: f for n, f in names_read_by_the_code().items() if n not in listed}
    assert not unlisted, f"read but not in aidnav.config.VARIABLES: {unlisted}"
    # the scan sees Python (the signer), dbt's profile and Dagster's deployed instance file
    assert {"AIDNAV_SIGNER_KEY", "AIDNAV_DUCKDB_MEMORY_LIMIT", "AIDNAV_DAGSTER_POSTGRES_URL"} \
        <= set(names_read_by_the_code())


def test_each_setting_reaches_settings_and_no_secret_does() -> None:
    default = load_settings({})
    for v in VARIABLES:
        value = "7"  # a valid value for each: a path, a URL, a number, a date text
        given = load_settings({v.name: value})
        if v.secret or v.per_run:
            assert given == default, v.name
            assert value not in repr(given).replace(repr(default), ""), v.name
        else:
            assert given != default, f"{v.name} reaches no field of Settings"


def test_defaults_on_a_bare_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    assert s.data_dir == tmp_path / "data"
    assert s.warehouse_path == tmp_path / "data" / "warehouse.duckdb"
    assert s.lake_url == str(tmp_path / "data" / "lake")
    assert s.dagster_home_dir == tmp_path / "data" / "dagster"
    assert s.dask_scheduler is None and s.chain_targets == "" and s.chain_id is None
    assert (s.rpc_url, s.duckdb_memory_limit, s.warehouse_wait_s, s.rewards_timelock_s) == (
        "http://127.0.0.1:8545", "2GB", 3600.0, 0)
    assert s.dbt_project_dir == REPO_ROOT / "dbt_project"


def test_a_malformed_number_is_named() -> None:
    import pytest

    for name, text in [("AIDNAV_WAREHOUSE_WAIT_S", "an hour"), ("AIDNAV_REWARDS_TIMELOCK_S", "-5"),
                       ("AIDNAV_CHAIN_ID", "mainnet")]:
        with pytest.raises(ValueError, match=f"^{name}='{text}': expected"):
            load_settings({name: text})
