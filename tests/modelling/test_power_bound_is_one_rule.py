"""The plausible GPU power has one value: ingestion refuses a power_w above it, and the
energy model counts no rise faster than it."""

from __future__ import annotations

import yaml

from aidnav.config import REPO_ROOT
from ingestion.bounds import GPU_NUMERIC


def test_the_models_power_bound_is_ingestions():
    project = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["max_gpu_power_w"] == GPU_NUMERIC["power_w"][1]
