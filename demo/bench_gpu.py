"""Benchmark the telemetry stage alone: one day of N GPUs at one sample a minute, in signed
hourly batches per 8-GPU node, compressed as the node agent writes them (zstd unless
`--compress` says otherwise), synthesised in a temporary folder, then checked, written to
a lake and reduced by the lake engine (`ingestion.lake.engine`) from scratch, in one
process or on real Dask clusters, each run's client in a fresh process.

    python -m demo.bench_gpu --gpus 1000 [--compress zstd|gzip|none] [--dask-workers 1,2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

from ingestion.compression import CODECS, JSONL, compress
from ingestion.nvml.agent import DEFAULT_COMPRESSION
from ingestion.nvml.signature import sign_batch
from ingestion.registry import (DEFAULT_MIN_COLLATERAL_RATIO, DEFAULT_PAYMENT_LAG_DAYS,
                               Address, Asset, Deal, Params, Provider, Registry)

DAY = date(2026, 3, 1)
GPUS_PER_NODE = 8


def node_key(i: int) -> bytes:
    """Deterministic benchmark/test key of node i (never a real key)."""
    return keccak(text=f"aidnav-bench-node-key-{i}")


def node_name(i: int) -> str:
    return f"node-{i:04d}"


def node_index(node_id: str) -> int:
    """The i of `node_name(i)`: the node whose key is `node_key(i)` (not its place among
    the names sorted: node-10000 sorts before node-1001)."""
    return int(node_id.removeprefix("node-"))


def synth_registry(n_gpus: int) -> Registry:
    from decimal import Decimal

    nodes = (n_gpus + GPUS_PER_NODE - 1) // GPUS_PER_NODE
    addrs = [Account.from_key(node_key(i)).address.lower() for i in range(nodes)]
    assets = tuple(
        Asset(f"GPU-bench-{g:06d}", "D-BENCH", "gpu", "H100-SXM5-80GB", Decimal(26000),
              date(2026, 1, 1), 1825, Decimal("0.1"), node_name(g // GPUS_PER_NODE),
              addrs[g // GPUS_PER_NODE], "BENCH") for g in range(n_gpus))
    deal = Deal("D-BENCH", "P-BENCH", "gpu", "fixed_rate", Decimal(1), date(2026, 1, 1),
                date(2027, 1, 1), Decimal("0.1"), None, None, None, DEFAULT_PAYMENT_LAG_DAYS,
                DEFAULT_MIN_COLLATERAL_RATIO,
                None, None)
    return Registry((Provider("P-BENCH", "bench", "XX", False, date(2025, 1, 1)),), (deal,),
                    assets, (), (), (Address(1, "usdc", "0x" + "00" * 20, None),),
                    Params(inception_date=date(2026, 1, 1)))


_LINE = ('{"ts":"%s","node_id":"%s","gpu_uuid":"%s","gpu_util_pct":%d,"mem_util_pct":50,'
         '"mem_used_mib":61234,"power_w":612.5,"energy_mj":%d,"temp_c":64,"sm_clock_mhz":1980,'
         '"xid_errors":0,"ecc_dbe_count":0,"serial":"1654922001234",'
         '"pci_bus_id":"00000000:%02X:00.0"}')


def synth_day(landing: Path, registry: Registry, interval_s: int = 60,
              compression: str = DEFAULT_COMPRESSION, day: date = DAY) -> int:
    """Write the signed hourly batches of `day`, compressed with `compression` (a codec of
    ingestion.compression, the signature over the compressed bytes as the node agent
    signs); returns the number of samples."""
    by_node: dict[str, list[Asset]] = {}
    for a in registry.assets:
        by_node.setdefault(a.node_id or "", []).append(a)
    t0 = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    counter0 = max(0, (day - DAY).days) * 86400  # the energy counter runs on from DAY
    n = 0
    for node, gpus in sorted(by_node.items()):
        folder = landing / "gpu_telemetry" / day.isoformat() / node
        folder.mkdir(parents=True)
        key = node_key(node_index(node))
        for hour in range(24):
            lines = []
            for s in range(hour * 3600, (hour + 1) * 3600, interval_s):
                ts = (t0 + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
                energy = 1000000 + (counter0 + s) * 700
                # json.dumps(..., separators=(",", ":")) of the sample, written out: the
                # synthesis of a large fleet is not what the benchmark times
                lines += [_LINE % (ts, node, g.asset_id, (s // 60 + gi) % 101, energy, 18 + gi)
                          for gi, g in enumerate(gpus)]
            data = compress(("\n".join(lines) + "\n").encode(), compression)
            n += len(lines)
            batch = folder / f"{node}-{day.isoformat()}-{hour:02d}{JSONL}{CODECS[compression]}"
            batch.write_bytes(data)
            (folder / (batch.name + ".sig")).write_text(json.dumps(sign_batch(data, key)))
    return n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, default=1000)
    ap.add_argument("--compress", choices=list(CODECS), default=DEFAULT_COMPRESSION,
                    help=f"codec of the batches (default: {DEFAULT_COMPRESSION}, as the node "
                         "agent writes them)")
    ap.add_argument("--landing", type=Path, default=None,
                    help="landing folder to reuse (synthesised there and kept if absent), so "
                         "that a later run measures the same batches")
    ap.add_argument("--dask-workers", default=None, metavar="N[,M...]",
                    help="time the stage on a real Dask cluster of N single-threaded workers "
                         "(then M...); default: in one process, on dask's threaded "
                         "scheduler")
    ap.add_argument("--json", action="store_true", help="one JSON object per run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    from demo.bench import _parse_workers, dask_cluster, time_telemetry_stage

    sizes = _parse_workers(args.dask_workers) if args.dask_workers else [0]
    tmp = Path(tempfile.mkdtemp(prefix="aidnav-bench-"))
    landing = args.landing or tmp / "landing"
    try:
        t = time.perf_counter()
        if args.landing is not None and (landing / "gpu_telemetry").exists():
            n = args.gpus * 24 * 60
            print(f"reusing {landing} ({n:,} samples of {args.gpus} GPUs)")
        else:
            n = synth_day(landing, synth_registry(args.gpus), compression=args.compress)
            print(f"synthesised {n:,} samples of {args.gpus} GPUs in "
                  f"{time.perf_counter() - t:.1f} s (not counted)")
        for workers in sizes:
            with contextlib.ExitStack() as stack:
                address, pids = "", []
                if workers:
                    address, pids = stack.enter_context(
                        dask_cluster(workers, tmp / "dask" / f"{workers}-workers"))
                r = time_telemetry_stage(landing, f"bench:{args.gpus}",
                                         tmp / f"lake-{workers}", address, workers, pids,
                                         tmp / f"telemetry-{workers}.json")
            if r["samples"] != n or r["quarantined"]:
                raise RuntimeError(f"bench: expected {n:,} valid samples, got {r}")
            where = f"{workers} Dask worker(s)" if workers else "one process"
            workers_rss = (f", workers {r['workers_peak_rss_mb']:,.0f} MB"
                           if r["workers_peak_rss_mb"] is not None else "")
            print(f"telemetry stage on {where}: {r['seconds']:.2f} s, "
                  f"{r['samples_per_s']:,} samples/s, {r['partitions']:,} partitions "
                  f"({r['worker_seconds_per_partition']} worker-s each); peak RSS "
                  f"{r['peak_rss_mb']:,.0f} MB{workers_rss}")
            if args.json:
                print(json.dumps({"gpus": args.gpus, "compression": args.compress, **r},
                                 sort_keys=True))
    finally:
        if args.keep:
            print(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
