"""The loader against batches that the agent wrote on a real H100 (no GPU needed here:
the batches are recorded files, see tests/fixtures/nvml_h100/README.md). Expected values
come from nvidia-smi's own log of the same GPU, recorded beside the agent."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.registry import load_registry

from tests.ingestion.ingestion_fixtures import REGISTRY_FILES, TEST_ADDR

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "nvml_h100"
GPU = "GPU-4f48a0c0-36ee-5c5d-bbc9-cc5585a646ab"
NODE = "node-h100-real"


def _landing_and_registry(root: Path) -> Path:
    """The recorded batches as a landing zone under `root`, and a registry with the real
    GPU on its node; returns the registry folder."""
    shutil.copytree(FIXTURE / "gpu_telemetry", root / "landing" / "gpu_telemetry")
    reg = root / "registry"
    reg.mkdir()
    for name, text in REGISTRY_FILES.items():
        if name == "assets.csv":
            text = (text.splitlines()[0] + "\n"
                    f"{GPU},D-A,gpu,H100,26000,2025-12-01,1825,0.10,{NODE},{TEST_ADDR},X\n")
        (reg / name).write_text(text)
    return reg


@pytest.fixture
def loaded(tmp_path, con):
    reg = _landing_and_registry(tmp_path)
    stats = ingest_gpu_telemetry(con, tmp_path / "landing", load_registry(con, reg))
    return con, stats, tmp_path


def _smi() -> list[tuple[float, dict]]:
    with open(FIXTURE / "nvidia_smi.csv", newline="") as fh:
        rows = list(csv.DictReader(fh, skipinitialspace=True))
    return [(datetime.strptime(r["timestamp"], "%Y/%m/%d %H:%M:%S.%f")
             .replace(tzinfo=timezone.utc).timestamp(), r) for r in rows]


def _num(text: str) -> float:
    return float(text.split()[0])


def test_real_h100_batches_pass_signature_and_load_whole(loaded):
    con, stats, _ = loaded
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (2, 60, 0)
    per_batch = con.execute("""select count(*) from raw.gpu_samples
                               group by source_file order by source_file""").fetchall()
    assert per_batch == [(30,), (30,)]
    assert con.execute("select count(distinct gpu_uuid), min(node_id), max(node_id) "
                       "from raw.gpu_samples").fetchone() == (1, NODE, NODE)


def test_real_h100_samples_agree_with_nvidia_smi_of_the_same_gpu(loaded):
    con, _, _ = loaded
    rows = con.execute("""select epoch(ts), gpu_util_pct, mem_used_mib, power_w, temp_c,
                                 sm_clock_mhz
                          from raw.gpu_samples order by ts""").fetchall()
    smi = _smi()
    mem_steady_mismatch = 0
    for t, util, mem, power, temp, clock in rows:
        st, s = min(smi, key=lambda x: abs(x[0] - t))
        assert abs(st - t) < 0.2, "nvidia-smi read the GPU within 0.2 s of every sample"
        assert abs(util - _num(s["utilization.gpu [%]"])) <= 1
        assert abs(power - _num(s["power.draw [W]"])) <= 1.0
        assert abs(temp - _num(s["temperature.gpu"])) <= 1
        assert abs(clock - _num(s["clocks.current.sm [MHz]"])) <= 15
        # memory: bytes floored to MiB against nvidia-smi's rounding; off only while the
        # load's process was allocating (one second at its start)
        if abs(mem - _num(s["memory.used [MiB]"])) > 1:
            mem_steady_mismatch += 1
    assert mem_steady_mismatch <= 1
    # idle memory is 0 MiB as nvidia-smi shows it, not the driver's 480 MiB reservation
    assert rows[0][2] == 0 and _num(smi[0][1]["memory.reserved [MiB]"]) == 480


def test_real_h100_energy_counter_matches_the_integral_of_power(loaded):
    con, _, _ = loaded
    rows = con.execute("select epoch(ts), energy_mj, power_w from raw.gpu_samples "
                       "order by ts").fetchall()
    assert all(b[1] > a[1] for a, b in zip(rows, rows[1:]))        # monotonic counter
    counted_j = float(rows[-1][1] - rows[0][1]) / 1000
    integral_j = sum((b[0] - a[0]) * (a[2] + b[2]) / 2 for a, b in zip(rows, rows[1:]))
    assert counted_j == pytest.approx(integral_j, rel=0.01)
    # about 25 s at the 700 W cap plus about 34 s idle near 73 W: roughly 20 kJ
    assert 17_000 < counted_j < 22_000


def test_real_h100_batch_edited_by_one_byte_is_quarantined_not_loaded(tmp_path, con):
    reg = _landing_and_registry(tmp_path)
    first = sorted((tmp_path / "landing").rglob("*.jsonl"))[0]
    data = first.read_bytes()
    assert b'"power_w":75.479,' in data
    first.write_bytes(data.replace(b'"power_w":75.479,', b'"power_w":75.579,', 1))
    stats = ingest_gpu_telemetry(con, tmp_path / "landing", load_registry(con, reg))
    assert (stats.rows_loaded, stats.rows_quarantined) == (30, 30)
    reasons = con.execute("select distinct reason from raw.quarantine "
                          "where file like '%160323-554Z.jsonl'").fetchall()
    assert len(reasons) == 1 and reasons[0][0].startswith("sha256 mismatch")
