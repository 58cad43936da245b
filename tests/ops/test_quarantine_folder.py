"""The daily job's ingestion writes the data contract's quarantine/ folder: one JSON Lines
file per delivery with rejected records, beside raw.quarantine."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg

from tests.fixture_paths import WORKED_EXAMPLE_INPUT


def test_rejected_records_of_the_days_deliveries_are_written_for_people(tmp_path: Path):
    import shutil

    from orchestration.assets.ingestion import raw_robot_records, registry
    from orchestration.resources import WarehouseResource

    data = tmp_path / "data"
    shutil.copytree(WORKED_EXAMPLE_INPUT / "registry", data / "registry")
    shutil.copytree(WORKED_EXAMPLE_INPUT / "landing", data / "landing")
    bad = data / "landing" / "robot_telemetry" / "2026-02-08" / "fleet-kl-01" / "bad.jsonl"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text('{"robot_id": "NOT-A-ROBOT", "ts": "2026-02-08T01:00:00Z", "counters": '
                   '{"operating_s": 1, "cleaning_s": 1, "area_cleaned_m2": 1}}\n')
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [registry, raw_robot_records], partition_key=date(2026, 2, 8).isoformat(),
            instance=instance, resources={"warehouse": WarehouseResource(data_dir=str(data))})
    assert result.success
    written = data / "quarantine" / "robot_telemetry" / "2026-02-08" / "fleet-kl-01" / "bad.jsonl.jsonl"
    rows = [json.loads(x) for x in written.read_text().splitlines()]
    assert [(r["file"], r["line"], r["field"]) for r in rows] == [
        ("robot_telemetry/2026-02-08/fleet-kl-01/bad.jsonl", 1, "robot_id")]
    assert "NOT-A-ROBOT" in rows[0]["record"]
