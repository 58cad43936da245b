"""The daily partitions start at the inception of the book in the data directory, so that
the UI shows no "missing" day before the book existed: params.csv's inception_date, else
the earliest funded_date; 2025-01-01 without a registry; AIDNAV_PARTITIONS_START wins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from ingestion.registry import registry_inception
from tests.fixture_paths import WORKED_EXAMPLE_INPUT

AIDNAV = str(Path(sys.executable).parent / "aidnav")
REGISTRY = WORKED_EXAMPLE_INPUT / "registry"
INCEPTION = date(2026, 1, 25)  # params.csv of the worked example

FIRST_PARTITION = ("from orchestration.partitions import daily_partitions; "
                   "print(daily_partitions.get_partition_keys()[0])")


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "AIDNAV_DATA_DIR": str(data), **extra}
    if "AIDNAV_PARTITIONS_START" not in extra:
        env.pop("AIDNAV_PARTITIONS_START", None)
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE"):
        env.pop(name, None)
    return env


def _first_partition(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", FIRST_PARTITION], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def _registry(data: Path) -> Path:
    shutil.copytree(REGISTRY, data / "registry")
    return data / "registry"


def test_the_inception_date_of_params(tmp_path):
    assert registry_inception(_registry(tmp_path)) == INCEPTION


def test_without_an_inception_date_the_earliest_funded_deal(tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "params.csv").write_text("name,value\nsample_interval_s,3600\n")
    (registry / "deals.csv").write_text("deal_id,funded_date\nA,2026-03-10\nB,2026-02-14\n"
                                        "C,2026-04-01\n")
    assert registry_inception(registry) == date(2026, 2, 14)


def test_no_registry_no_inception(tmp_path):
    assert registry_inception(tmp_path / "registry") is None


def test_the_partitions_start_at_the_books_inception(tmp_path):
    _registry(tmp_path)
    assert _first_partition(_env(tmp_path)) == INCEPTION.isoformat()


def test_without_a_registry_the_partitions_start_in_2025(tmp_path):
    assert _first_partition(_env(tmp_path)) == "2025-01-01"


def test_an_explicit_start_wins(tmp_path):
    _registry(tmp_path)
    env = _env(tmp_path, AIDNAV_PARTITIONS_START="2025-06-01")
    assert _first_partition(env) == "2025-06-01"


def test_a_day_before_inception_is_still_one_line(tmp_path):
    _registry(tmp_path)
    done = subprocess.run([AIDNAV, "run", "--date", "2026-01-24"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: 2026-01-24 is before the book's inception 2026-01-25"
        " — run a day from the inception on"]
