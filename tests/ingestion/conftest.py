from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingestion.ingestion_fixtures import REGISTRY_FILES


@pytest.fixture
def con():
    from ingestion.warehouse import connect

    c = connect(":memory:")
    yield c
    c.close()


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
