"""The registry is parsed once per run: the `registry` asset validates and loads it, every
landing asset of the same run takes it from the warehouse resource; the next run parses
it again (a registry edited between runs is seen)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

import ingestion.registry
from tests.fixture_paths import WORKED_EXAMPLE_INPUT


def test_one_parse_a_run(tmp_path: Path, monkeypatch):
    from orchestration.assets.ingestion import (raw_gpu_samples, raw_invoices,
                                                raw_robot_records, registry)
    from orchestration.resources import WarehouseResource

    monkeypatch.delenv("AIDNAV_WAREHOUSE", raising=False)  # the warehouse in `data`
    data = tmp_path / "data"
    shutil.copytree(WORKED_EXAMPLE_INPUT / "registry", data / "registry")
    shutil.copytree(WORKED_EXAMPLE_INPUT / "landing", data / "landing")
    parses: list[str] = []
    real_parse = ingestion.registry.parse_registry

    def counted(registry_dir):
        parses.append(str(registry_dir))
        return real_parse(registry_dir)

    monkeypatch.setattr(ingestion.registry, "parse_registry", counted)
    assets = [registry, raw_invoices, raw_gpu_samples, raw_robot_records]
    with dg.DagsterInstance.ephemeral() as instance:
        for day in ("2026-02-08", "2026-02-09"):
            result = dg.materialize(
                assets, partition_key=day, instance=instance,
                resources={"warehouse": WarehouseResource(data_dir=str(data))})
            assert result.success
    # two runs of four assets: one parse each, not one per asset
    assert parses == [str(data / "registry")] * 2
