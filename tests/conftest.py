"""Fixtures for every test directory: the paths of the in-repository reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixture_paths import WORKED_EXAMPLE, WORKED_EXAMPLE_EXPECTED, WORKED_EXAMPLE_INPUT

# The Dagster definitions load once per test process, whatever book each test writes: their
# partitions start on a fixed day, not at the inception of whatever registry lies in the
# data directory (`make test` exports the repository's own)
os.environ.setdefault("AIDNAV_PARTITIONS_START", "2025-01-01")


@pytest.fixture(autouse=True)
def _environment_as_it_was():
    """Each test ends with the environment it started with: the command line's
    `prepare_environment` exports the settings (AIDNAV_WAREHOUSE, DAGSTER_HOME, ...) into
    this process, and they must not reach the next test on the same worker."""
    before = dict(os.environ)
    yield
    for name in set(os.environ) - set(before):
        del os.environ[name]
    for name, value in before.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


@pytest.fixture(scope="session")
def worked_example_dir() -> Path:
    """The worked example (README.md, input/, expected/)."""
    return WORKED_EXAMPLE


@pytest.fixture(scope="session")
def worked_example_input() -> Path:
    """The worked example's inputs: registry/, landing/ and chain_events.jsonl."""
    return WORKED_EXAMPLE_INPUT


@pytest.fixture(scope="session")
def worked_example_expected() -> Path:
    """The worked example's `expected/` folder (independent reference outputs)."""
    return WORKED_EXAMPLE_EXPECTED
