"""Signed telemetry batches for the lake tests: the benchmark fleet's registry and keys
(8 GPUs a node), batches written sample by sample."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from demo.bench_gpu import node_key, synth_registry
from ingestion.nvml.signature import sign_batch

REGISTRY = synth_registry(16)  # node-0000: GPU-bench-000000..07, node-0001: ..08..15
NOW = datetime.fromisoformat("2026-03-05T00:00:00+00:00")


def gpu(i: int) -> str:
    return f"GPU-bench-{i:06d}"


def sample(ts: str, gpu_index: int, energy_mj: int, util: int = 50) -> dict:
    return {"ts": ts, "node_id": f"node-{gpu_index // 8:04d}", "gpu_uuid": gpu(gpu_index),
            "gpu_util_pct": util, "mem_util_pct": 50, "mem_used_mib": 61234, "power_w": 612.5,
            "energy_mj": energy_mj, "temp_c": 64, "sm_clock_mhz": 1980, "xid_errors": 0,
            "ecc_dbe_count": 0, "serial": "1654922001234", "pci_bus_id": "00000000:18:00.0"}


def write_batch(landing: Path, delivery_day: str, node: int, name: str,
                samples: list[dict]) -> str:
    """Write `gpu_telemetry/<delivery_day>/node-<node>/<name>.jsonl` and its .sig, signed
    with the node's key; returns the batch's path relative to the landing root."""
    folder = landing / "gpu_telemetry" / delivery_day / f"node-{node:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(s, separators=(",", ":")) + "\n" for s in samples).encode()
    batch = folder / f"{name}.jsonl"
    batch.write_bytes(data)
    (folder / f"{name}.jsonl.sig").write_text(json.dumps(sign_batch(data, node_key(node))))
    return batch.relative_to(landing).as_posix()


def ledger_of(*runs) -> dict[str, str]:
    """The file ledger after `runs` (relative path -> sha256)."""
    out: dict[str, str] = {}
    for r in runs:
        out.update(zip(r.ledger["file"].to_pylist(), r.ledger["sha256"].to_pylist()))
    return out


def lake_files(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mtime_ns) of every file under the lake root."""
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                             p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}
