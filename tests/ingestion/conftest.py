from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    here = Path(__file__).resolve().parents[3] / "shared"
    if here.is_dir():
        return here
    env = os.getenv("AIDNAV_SHARED_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    pytest.skip("shared/ folder with the worked example not found (set AIDNAV_SHARED_DIR)")


@pytest.fixture(scope="session")
def worked_input() -> Path:
    return shared_dir() / "examples" / "worked_example" / "input"


@pytest.fixture
def con():
    from ingestion.warehouse import connect

    c = connect(":memory:")
    yield c
    c.close()


from ingestion_fixtures import REGISTRY_FILES  # noqa: E402


@pytest.fixture
def registry_dir(tmp_path) -> Path:
    d = tmp_path / "registry"
    d.mkdir()
    for name, text in REGISTRY_FILES.items():
        (d / name).write_text(text)
    return d


@pytest.fixture
def registry(con, registry_dir):
    from ingestion.registry import load_registry

    return load_registry(con, registry_dir)


@pytest.fixture
def landing(tmp_path) -> Path:
    d = tmp_path / "landing"
    d.mkdir()
    return d
