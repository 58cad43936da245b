"""The NVML node agent: samples every GPU of a node each `interval` seconds and writes
signed JSON Lines batches (DATA_CONTRACTS.md, "GPU telemetry (NVML)"), compressed with
zstd unless `--compress` says otherwise:

    OUT/<date>/<node_id>/<batch_id>.jsonl.zst      one sample per GPU per interval
    OUT/<date>/<node_id>/<batch_id>.jsonl.zst.sig  {"signer", "sha256", "signature"}

(`.jsonl.gz` with `--compress gzip`, `.jsonl` with `--compress none`). The signature covers
the file's bytes as written, compressed. `<date>` is the UTC date of the batch's first
sample. Both files are written atomically
(temp name, fsync, rename), the `.sig` first, so that ingestion never sees a batch
without its signature. A GPU that is lost is logged and no longer sampled; the others go on.

    aidnav agent nvml --node-id ID --key-file FILE --interval 60 --out DIR [--compress zstd]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from eth_account import Account

from ingestion.compression import CODECS, JSONL, compress
from ingestion.nvml.nvml_seam import (GpuIdentity, GpuLost, GpuReading, NvmlBackend,
                                      NvmlUnavailable, PynvmlBackend)
from ingestion.nvml.signature import sign_batch

log = logging.getLogger("aidnav.agent.nvml")

KEYSTORE_PASSWORD_ENV = "AIDNAV_AGENT_KEYSTORE_PASSWORD"
EXIT_NO_NVML = 2
EXIT_BAD_KEY = 2
EXIT_NO_GPU = 3
DEFAULT_COMPRESSION = "zstd"
_MIB = 1024 * 1024


class KeyFileError(ValueError):
    """The key file cannot be read as a hex private key or a keystore (never shows the key)."""


def load_private_key(path: str | Path) -> bytes:
    """A 32-byte private key from a hex file (`0x…` or bare, one line) or an encrypted
    keystore JSON whose password is in `AIDNAV_AGENT_KEYSTORE_PASSWORD`."""
    p = Path(path)
    try:
        text = p.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"{p}: cannot read the key file ({type(e).__name__})") from None
    if text.startswith("{"):
        try:
            keystore = json.loads(text)
        except ValueError:
            raise KeyFileError(f"{p}: not valid JSON: expected an encrypted keystore") from None
        password = os.environ.get(KEYSTORE_PASSWORD_ENV)
        if password is None:
            raise KeyFileError(f"{p}: keystore file needs its password in "
                               f"{KEYSTORE_PASSWORD_ENV}")
        try:
            return bytes(Account.decrypt(keystore, password))
        except Exception as e:  # eth_keyfile raises ValueError/KeyError/...; never echo it
            raise KeyFileError(f"{p}: keystore cannot be decrypted ({type(e).__name__}): "
                               f"wrong password in {KEYSTORE_PASSWORD_ENV}?") from None
    hex_text = text.removeprefix("0x").removeprefix("0X")
    if len(hex_text) != 64:
        raise KeyFileError(f"{p}: expected 64 hex digits (a secp256k1 private key) or a "
                           f"keystore JSON, got {len(hex_text)} characters")
    try:
        key = bytes.fromhex(hex_text)
        Account.from_key(key)
    except ValueError:
        raise KeyFileError(f"{p}: expected 64 hex digits (a valid secp256k1 private key) "
                           "or a keystore JSON") from None
    return key


def iso_z(t: float) -> str:
    """Unix seconds as ISO 8601 UTC with millisecond precision and a Z."""
    dt = datetime.fromtimestamp(t, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def to_sample(ts: float, node_id: str, gpu: GpuIdentity, r: GpuReading) -> dict:
    """One sample in the contract's shape (unsupported fields are null)."""
    return {
        "ts": iso_z(ts), "node_id": node_id, "gpu_uuid": gpu.uuid,
        "gpu_util_pct": r.gpu_util_pct, "mem_util_pct": r.mem_util_pct,
        "mem_used_mib": None if r.mem_used_bytes is None else r.mem_used_bytes // _MIB,
        "power_w": None if r.power_mw is None else r.power_mw / 1000,
        "energy_mj": r.energy_mj, "temp_c": r.temp_c, "sm_clock_mhz": r.sm_clock_mhz,
        "xid_errors": r.xid_errors, "ecc_dbe_count": r.ecc_dbe_count,
        "serial": gpu.serial, "pci_bus_id": gpu.pci_bus_id,
        "throttle_reasons": r.throttle_reasons, "fan_speed_pct": r.fan_speed_pct,
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_batch(out_dir: Path, node_id: str, first_ts: float, samples: list[dict],
                private_key: bytes, compression: str = DEFAULT_COMPRESSION) -> Path:
    """Write `samples` as `<date>/<node_id>/<batch_id>.jsonl[.zst|.gz]`, compressed with
    `compression`, and its `.sig` over the compressed bytes (sig first)."""
    first = datetime.fromtimestamp(first_ts, tz=timezone.utc)
    folder = out_dir / first.date().isoformat() / node_id
    folder.mkdir(parents=True, exist_ok=True)
    batch_id = f"{node_id}-{first.strftime('%Y%m%dT%H%M%S')}-{first.microsecond // 1000:03d}Z"
    data = compress(b"".join(json.dumps(s, separators=(",", ":")).encode() + b"\n"
                             for s in samples), compression)
    path = folder / f"{batch_id}{JSONL}{CODECS[compression]}"
    _write_atomic(path.with_name(path.name + ".sig"),
                  json.dumps(sign_batch(data, private_key)).encode())
    _write_atomic(path, data)
    log.info("batch %s: %d samples", path, len(samples))
    return path


class _Stop(Exception):
    pass


class Agent:
    """Samples the GPUs that `backend` exposes; time comes from `clock` and `sleep` so that
    a run can be driven by recorded readings."""

    def __init__(self, backend: NvmlBackend, node_id: str, private_key: bytes, out_dir: Path,
                 interval_s: float = 60, batch_seconds: float = 3600,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 compression: str = DEFAULT_COMPRESSION) -> None:
        self.backend, self.node_id, self.out_dir = backend, node_id, Path(out_dir)
        self.compression = compression
        self._key = private_key
        self.interval_s, self.batch_seconds = interval_s, batch_seconds
        self.clock, self.sleep = clock, sleep
        self.gpus: list[GpuIdentity] = []
        self.lost: dict[str, str] = {}
        self.batches: list[Path] = []
        self._pending: list[dict] = []
        self._batch_start: float | None = None
        self._batch_index: int | None = None

    def open_gpus(self) -> None:
        for i in range(self.backend.device_count()):
            try:
                gpu = self.backend.open(i)
            except GpuLost as e:
                log.error("GPU index %d not sampled: %s", i, e)
                continue
            log.info("GPU %d: %s serial=%s pci=%s", i, gpu.uuid, gpu.serial, gpu.pci_bus_id)
            self.gpus.append(gpu)

    def sample_once(self, scheduled_s: float) -> None:
        """Read every GPU once. `scheduled_s`, the tick's due time counted from the run's
        start, picks the batch: batch k holds the ticks due in [k, k+1) x batch_seconds, so
        that batches hold the same number of ticks however late each tick wakes (by the clock
        alone, a real H100 node sampled at 1 s wrote 30 s batches of 30, 31 and 30 samples)."""
        now = self.clock()
        index = int(scheduled_s // self.batch_seconds)
        if self._batch_index is not None and index != self._batch_index:
            self.flush()
        self._batch_index = index
        if self._batch_start is None:
            self._batch_start = now
        for gpu in list(self.gpus):
            try:
                reading = self.backend.read(gpu)
            except GpuLost as e:
                self.gpus.remove(gpu)
                self.lost[gpu.uuid] = str(e)
                log.error("GPU %s lost at %s, no longer sampled: %s", gpu.uuid, iso_z(now), e)
                continue
            except Exception as e:  # one bad read must not stop the node's other GPUs
                log.warning("GPU %s: no sample at %s: %s: %s", gpu.uuid, iso_z(now),
                            type(e).__name__, e)
                continue
            self._pending.append(to_sample(now, self.node_id, gpu, reading))

    def flush(self) -> None:
        if self._pending and self._batch_start is not None:
            self.batches.append(write_batch(self.out_dir, self.node_id, self._batch_start,
                                            self._pending, self._key, self.compression))
        self._pending, self._batch_start = [], None

    def run(self, count: int | None = None, max_seconds: float | None = None) -> int:
        """Sample until `count` ticks, `max_seconds` or a stop signal; returns an exit code."""
        self.backend.init()
        try:
            self.open_gpus()
            if not self.gpus:
                log.error("no GPU to sample on node %s", self.node_id)
                return EXIT_NO_GPU
            start = self.clock()
            ticks = 0
            try:
                while count is None or ticks < count:
                    offset = ticks * self.interval_s
                    if ticks:
                        if max_seconds is not None and offset > max_seconds:
                            break
                        self.sleep(max(0.0, start + offset - self.clock()))
                    self.sample_once(offset)
                    ticks += 1
                    if not self.gpus:
                        log.error("every GPU of node %s is lost", self.node_id)
                        return EXIT_NO_GPU
            except (_Stop, KeyboardInterrupt):
                log.info("stopping: closing the open batch")
            return 0
        finally:
            self.flush()
            self.backend.shutdown()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aidnav agent nvml",
                                description="Sample the node's GPUs through NVML and write "
                                            "signed telemetry batches.")
    p.add_argument("--node-id", required=True, help="node id as in the registry's assets.csv")
    p.add_argument("--key-file", required=True,
                   help="hex private key file, or keystore JSON (password in "
                        f"{KEYSTORE_PASSWORD_ENV})")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    p.add_argument("--out", required=True, type=Path,
                   help="output folder (the landing's gpu_telemetry folder)")
    p.add_argument("--batch-seconds", type=float, default=3600.0,
                   help="seconds after which a batch is closed and signed")
    p.add_argument("--count", type=int, default=None,
                   help="stop after N samples per GPU (default: run until stopped)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="stop after this many seconds")
    p.add_argument("--compress", choices=list(CODECS), default=DEFAULT_COMPRESSION,
                   help="batch compression: zstd (.jsonl.zst, the default), gzip (.jsonl.gz) "
                        "or none (.jsonl); the signature covers the compressed bytes")
    return p


def main(argv: list[str] | None = None, *, backend: NvmlBackend | None = None,
         clock: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """`aidnav agent nvml`; `backend`, `clock` and `sleep` replace NVML and time (replays,
    tests). Exit codes: 0 done or stopped, 2 no NVML library / bad key file / bad option,
    3 no GPU left to sample."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.interval <= 0 or args.batch_seconds <= 0:
        print("--interval and --batch-seconds must be positive", file=sys.stderr)
        return 2
    try:
        key = load_private_key(args.key_file)
    except KeyFileError as e:
        print(f"key file error: {e}", file=sys.stderr)
        return EXIT_BAD_KEY
    log.info("node %s signs as %s", args.node_id, Account.from_key(key).address.lower())
    agent = Agent(backend or PynvmlBackend(), args.node_id, key, args.out,
                  interval_s=args.interval, batch_seconds=args.batch_seconds,
                  clock=clock, sleep=sleep, compression=args.compress)

    def _on_term(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_term) if on_main_thread else None
    try:
        return agent.run(count=args.count, max_seconds=args.max_seconds)
    except NvmlUnavailable as e:
        print(str(e), file=sys.stderr)
        return EXIT_NO_NVML
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
