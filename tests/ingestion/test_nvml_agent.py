"""The NVML node agent. There is no GPU on the test machine, so every run except the
"no NVML library" one goes through a fake NVML: the `pynvml.nvml*` functions that the
real backend calls are replaced by fakes fed from real H100 readings
(tests/fixtures/nvml/h100_probe.json), raising pynvml's own exception classes; the
backend's mapping code and the agent run unchanged."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
from datetime import datetime, timezone
from pathlib import Path

import pynvml
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from ingestion.compression import codec_of, decompress_capped, is_jsonl_delivery
from ingestion.nvml import agent as nvml_agent
from ingestion.nvml.ingest import ingest_gpu_telemetry
from ingestion.registry import load_registry
from tests.ingestion.ingestion_fixtures import REGISTRY_FILES, TEST_ADDR, TEST_KEY
from tests.fixture_paths import NVML_H100_PROBE

NODE = "node-t"
MIB = 1024 * 1024
RESERVED = 480 * MIB   # the driver's reservation on an H100, driver 580 (tests/fixtures/nvml_h100)


@pytest.fixture(scope="module")
def probe() -> dict:
    return json.loads(NVML_H100_PROBE.read_text())


class _Handle:
    def __init__(self, index: int) -> None:
        self.index = index


class _EventSet:
    def __init__(self) -> None:
        self.handles: list[_Handle] = []
        self.pending: list[pynvml.c_nvmlEventData_t] = []


class FakeNvml:
    """NVML with `n_gpus` copies of the probed H100 (GPU 0 keeps its real identity);
    tick k answers probe sample k. Time advances one sample per `sleep`."""

    def __init__(self, probe: dict, n_gpus: int = 2) -> None:
        self.static = probe["static"]["gpus"][0]
        self.samples = probe["samples"]
        self.n = n_gpus
        real = self.static["nvmlDeviceGetUUID"]
        self.uuids = [real] + [real[:-2] + f"{i:02x}" for i in range(1, n_gpus)]
        self.tick = 0
        self.lost_at: dict[int, int] = {}
        self.energy_reset_at: dict[int, int] = {}
        self.xids: dict[tuple[int, int], list[int]] = {}
        self.fan_calls = 0
        self.event_sets: list[_EventSet] = []
        self.sleeps: list[float] = []
        self.memory_v2 = True

    # time
    def clock(self) -> float:
        return self.samples[self.tick]["t"]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.tick += 1

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in dir(self):
            if name.startswith("nvml"):
                assert hasattr(pynvml, name), name
                monkeypatch.setattr(pynvml, name, getattr(self, name))

    # helpers
    def _dev(self, handle: _Handle) -> int:
        lost = self.lost_at.get(handle.index)
        if lost is not None and self.tick >= lost:
            raise pynvml.NVMLError_GpuIsLost()
        return handle.index

    def _s(self) -> dict:
        return self.samples[self.tick]

    # pynvml functions used by the backend
    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return self.n

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        if not 0 <= index < self.n:
            raise pynvml.NVMLError_InvalidArgument()
        return _Handle(index)

    def nvmlDeviceGetUUID(self, h: _Handle) -> str:
        return self.uuids[self._dev(h)]

    def nvmlDeviceGetSerial(self, h: _Handle) -> str:
        return str(int(self.static["nvmlDeviceGetSerial"]) + self._dev(h))

    def nvmlDeviceGetPciInfo(self, h: _Handle):
        info = pynvml.nvmlPciInfo_t()
        info.busId = f"00000000:00:{6 + self._dev(h):02X}.0".encode()
        return info

    def nvmlEventSetCreate(self) -> _EventSet:
        es = _EventSet()
        self.event_sets.append(es)
        return es

    def nvmlDeviceRegisterEvents(self, h: _Handle, types: int, es: _EventSet) -> None:
        assert types == pynvml.nvmlEventTypeXidCriticalError
        es.handles.append(h)

    def nvmlEventSetWait_v2(self, es: _EventSet, timeout_ms: int):
        assert timeout_ms == 0, "the agent must not block on XID events"
        for h in es.handles:
            self._dev(h)
            for xid in self.xids.pop((h.index, self.tick), []):
                es.pending.append(pynvml.c_nvmlEventData_t(
                    eventType=pynvml.nvmlEventTypeXidCriticalError, eventData=xid))
        if not es.pending:
            raise pynvml.NVMLError_Timeout()
        return es.pending.pop(0)

    def nvmlEventSetFree(self, es: _EventSet) -> None:
        pass

    def nvmlDeviceGetUtilizationRates(self, h: _Handle):
        self._dev(h)
        u = self._s()["util"]
        return pynvml.c_nvmlUtilization_t(gpu=u["gpu"], memory=u["memory"])

    def nvmlDeviceGetMemoryInfo(self, h: _Handle, version=None):
        self._dev(h)
        m = self._s()["mem"]
        if version is None:       # v1: the driver's reservation counts as used
            return pynvml.c_nvmlMemory_t(total=m["total"], free=m["free"], used=m["used"])
        assert version == pynvml.nvmlMemory_v2
        if not self.memory_v2:
            raise pynvml.NVMLError_FunctionNotFound()
        return pynvml.c_nvmlMemory_v2_t(version=version, total=m["total"], reserved=RESERVED,
                                        free=m["free"], used=m["used"] - RESERVED)

    def nvmlDeviceGetPowerUsage(self, h: _Handle) -> int:
        self._dev(h)
        return self._s()["power_mw"]

    def nvmlDeviceGetTotalEnergyConsumption(self, h: _Handle) -> int:
        i = self._dev(h)
        e = self._s()["energy_mj"]
        reset = self.energy_reset_at.get(i)
        if reset is not None and self.tick >= reset:
            e -= self.samples[reset]["energy_mj"]      # the counter restarted from zero
        return e

    def nvmlDeviceGetTemperature(self, h: _Handle, sensor: int) -> int:
        self._dev(h)
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError_InvalidArgument()
        return self._s()["temp_c"]

    def nvmlDeviceGetClockInfo(self, h: _Handle, clock_type: int) -> int:
        self._dev(h)
        if clock_type == pynvml.NVML_CLOCK_SM:
            return self._s()["sm_clock"]
        if clock_type == pynvml.NVML_CLOCK_MEM:
            return self._s()["mem_clock"]
        raise pynvml.NVMLError_InvalidArgument()

    def nvmlDeviceGetTotalEccErrors(self, h: _Handle, error_type: int, counter: int) -> int:
        self._dev(h)
        if (error_type, counter) != (pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                                     pynvml.NVML_VOLATILE_ECC):
            raise pynvml.NVMLError_InvalidArgument()
        return self._s()["ecc_dbe_volatile"]

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: _Handle) -> int:
        self._dev(h)
        return self._s()["clock_event_reasons"]

    def nvmlDeviceGetFanSpeed(self, h: _Handle) -> int:
        self._dev(h)
        self.fan_calls += 1
        raise pynvml.NVMLError_NotSupported()    # as on the probed SXM board


@pytest.fixture
def key_file(tmp_path) -> Path:
    p = tmp_path / "node.key"
    p.write_text("0x" + TEST_KEY.hex() + "\n")
    return p


def run_agent(fake: FakeNvml, monkeypatch, key_file: Path, out: Path, *extra: str) -> int:
    fake.install(monkeypatch)
    argv = ["--node-id", NODE, "--key-file", str(key_file), "--interval", "1",
            "--out", str(out), *extra]
    return nvml_agent.main(argv, clock=fake.clock, sleep=fake.sleep)


def batch_files(out: Path) -> list[Path]:
    """The batches the agent wrote, whatever their compression."""
    return sorted(p for p in out.rglob("*") if p.is_file() and is_jsonl_delivery(p.name))


def batch_lines(p: Path) -> list[str]:
    return decompress_capped(p.read_bytes(), codec_of(p.name), 1 << 30).decode().splitlines()


def read_samples(out: Path) -> list[dict]:
    return [json.loads(line) for p in batch_files(out) for line in batch_lines(p)]


def agent_registry(con, tmp_path: Path, uuids: list[str]):
    """The test registry with the fake node's GPUs registered to the node key."""
    reg_dir = tmp_path / "registry"
    reg_dir.mkdir(exist_ok=True)
    for name, text in REGISTRY_FILES.items():
        if name == "assets.csv":
            text = text.splitlines()[0] + "\n" + "".join(
                f"{u},D-A,gpu,H100,26000,2025-12-01,1825,0.10,{NODE},{TEST_ADDR},X\n"
                for u in uuids)
        (reg_dir / name).write_text(text)
    return load_registry(con, reg_dir)


def by_gpu(samples: list[dict], uuid: str) -> list[dict]:
    return [s for s in samples if s["gpu_uuid"] == uuid]


def iso_ms(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def test_agent_with_fake_nvml_writes_signed_batches_that_ingestion_accepts(
        probe, monkeypatch, key_file, tmp_path, con):
    fake = FakeNvml(probe, n_gpus=2)
    out = tmp_path / "landing" / "gpu_telemetry"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "60",
                     "--batch-seconds", "30") == 0

    # layout: <UTC date of the first sample>/<node>/<batch>.jsonl.zst + .sig (zstd by
    # default), no temp files left
    batches = batch_files(out)
    assert len(batches) == 2                       # 59.5 s of samples, 30 s batches
    assert all(p.name.endswith(".jsonl.zst") for p in batches)
    assert {p.parent.relative_to(out).as_posix() for p in batches} == {f"2026-11-25/{NODE}"}
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted(
        [p.name for p in batches] + [p.name + ".sig" for p in batches])

    # each .sig: sha256 of the bytes as written (compressed), EIP-191 signature of the
    # digest by the node key
    for p in batches:
        data = p.read_bytes()
        assert data.startswith(b"\x28\xb5\x2f\xfd")          # the zstd frame magic
        sig = json.loads((p.parent / (p.name + ".sig")).read_text())
        digest = hashlib.sha256(data).digest()
        assert sig["sha256"] == digest.hex()
        assert sig["signer"] == TEST_ADDR
        recovered = Account.recover_message(encode_defunct(primitive=digest),
                                            signature=sig["signature"])
        assert recovered.lower() == TEST_ADDR

    # the samples carry the probe's readings converted to the contract's units
    samples = read_samples(out)
    assert len(samples) == 120
    first = by_gpu(samples, fake.uuids[0])[0]
    assert first == {
        "ts": "2026-11-25T08:48:05.449Z", "node_id": NODE,
        "gpu_uuid": "GPU-6628f9e6-5c1f-95b0-8dad-d64b6c6812d8",
        "gpu_util_pct": 0, "mem_util_pct": 0, "mem_used_mib": 0, "power_w": 118.732,
        "energy_mj": 2088417, "temp_c": 38, "sm_clock_mhz": 405, "xid_errors": 0,
        "ecc_dbe_count": 0, "serial": "1753024032141", "pci_bus_id": "00000000:00:06.0",
        "throttle_reasons": 1, "fan_speed_pct": None}
    assert by_gpu(samples, fake.uuids[1])[0]["pci_bus_id"] == "00000000:00:07.0"

    # and the project's ingestion accepts every one of them
    stats = ingest_gpu_telemetry(con, tmp_path / "landing",
                                 agent_registry(con, tmp_path, fake.uuids))
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (2, 120, 0)
    rows = con.execute("""select power_w, energy_mj, temp_c, gpu_util_pct, epoch(ts)
                          from raw.gpu_samples where gpu_uuid = ? order by ts""",
                       [fake.uuids[0]]).fetchall()
    assert [r[0] for r in rows] == [s["power_mw"] / 1000 for s in probe["samples"]]
    assert [int(r[1]) for r in rows] == [s["energy_mj"] for s in probe["samples"]]
    assert [r[2] for r in rows] == [s["temp_c"] for s in probe["samples"]]
    assert [r[3] for r in rows] == [s["util"]["gpu"] for s in probe["samples"]]
    assert [round(r[4], 3) for r in rows] == [int(s["t"] * 1000) / 1000
                                             for s in probe["samples"]]
    # under load the probe hit the 700 W cap with the software power-cap clock reason
    assert max(r[0] for r in rows) <= 700
    assert any(s["throttle_reasons"] & 4 for s in samples)


def test_agent_with_fake_nvml_writes_each_compression_and_all_load_the_same_samples(
        probe, monkeypatch, key_file, tmp_path, con):
    out = tmp_path / "landing" / "gpu_telemetry"
    uuids = []
    for codec in ("zstd", "gzip", "none"):
        fake = FakeNvml(probe, n_gpus=2)
        extra = () if codec == "zstd" else ("--compress", codec)
        assert run_agent(fake, monkeypatch, key_file, out, "--count", "10", *extra) == 0
        uuids = fake.uuids
    # the same readings three times: one batch name, three compressions, each signed
    names = sorted(p.name for p in (out / "2026-11-25" / NODE).iterdir())
    batch = f"{NODE}-20261125T084805-449Z.jsonl"
    assert names == [batch, batch + ".gz", batch + ".gz.sig", batch + ".sig",
                     batch + ".zst", batch + ".zst.sig"]
    stats = ingest_gpu_telemetry(con, tmp_path / "landing", agent_registry(con, tmp_path, uuids))
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (3, 60, 0)
    rows = {}
    for name in (batch, batch + ".gz", batch + ".zst"):
        rows[name] = con.execute(
            "select * exclude (source_file) from raw.gpu_samples where source_file = ? "
            "order by line", [f"gpu_telemetry/2026-11-25/{NODE}/{name}"]).fetchall()
    assert len(rows[batch]) == 20
    assert rows[batch + ".gz"] == rows[batch + ".zst"] == rows[batch]


def test_agent_rejects_an_unknown_compression(key_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        nvml_agent.main(["--node-id", NODE, "--key-file", str(key_file), "--out",
                         str(tmp_path / "out"), "--compress", "bzip2"])
    assert e.value.code == 2
    assert "--compress: invalid choice: 'bzip2' (choose from 'none', 'gzip', 'zstd')" in \
        capsys.readouterr().err


def test_agent_with_fake_nvml_keeps_sampling_the_others_when_a_gpu_is_lost(
        probe, monkeypatch, key_file, tmp_path, caplog):
    fake = FakeNvml(probe, n_gpus=3)
    fake.lost_at[1] = 10
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        assert run_agent(fake, monkeypatch, key_file, out, "--count", "20") == 0
    samples = read_samples(out)
    assert [len(by_gpu(samples, u)) for u in fake.uuids] == [20, 10, 20]
    assert by_gpu(samples, fake.uuids[2])[-1]["ts"] == iso_ms(probe["samples"][19]["t"])
    lost_lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lost_lines) == 1
    assert fake.uuids[1] in lost_lines[0] and "lost" in lost_lines[0]
    assert "NVMLError_GpuIsLost" in lost_lines[0]


def test_agent_with_fake_nvml_exits_3_when_every_gpu_is_lost(
        probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=1)
    fake.lost_at[0] = 5
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "20") == 3
    assert len(read_samples(out)) == 5          # what was sampled before is still written


def test_agent_with_fake_nvml_writes_the_raw_energy_counter_across_a_reset(
        probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=2)
    fake.energy_reset_at[0] = 30
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "40") == 0
    samples = read_samples(out)
    e = [s["energy_mj"] for s in probe["samples"][:40]]
    expected = e[:30] + [x - e[30] for x in e[30:]]
    assert [s["energy_mj"] for s in by_gpu(samples, fake.uuids[0])] == expected
    assert expected[30] == 0 and expected[29] > 0     # the counter really dropped
    assert [s["energy_mj"] for s in by_gpu(samples, fake.uuids[1])] == e


def test_agent_with_fake_nvml_records_unsupported_fan_as_null(
        probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=1)
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "3") == 0
    samples = read_samples(out)
    assert len(samples) == 3
    assert fake.fan_calls == 3                         # asked each time, not a failure
    assert all(s["fan_speed_pct"] is None for s in samples)
    assert [s["power_w"] for s in samples] == [118.732, 72.368, 72.082]


def test_agent_with_fake_nvml_counts_xid_events_per_interval(
        probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=2)
    fake.xids[(1, 4)] = [79, 48]
    fake.xids[(1, 7)] = [13]
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "10") == 0
    samples = read_samples(out)
    assert [s["xid_errors"] for s in by_gpu(samples, fake.uuids[1])] == \
        [0, 0, 0, 0, 2, 0, 0, 1, 0, 0]
    assert all(s["xid_errors"] == 0 for s in by_gpu(samples, fake.uuids[0]))


def test_agent_with_fake_nvml_closes_batches_on_batch_seconds_and_follows_interval(
        probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=1)
    # each tick wakes a few ms late, as on the real H100; the first tick of the second
    # batch wakes later than the ticks after it, so by the clock alone that batch would
    # still be open 10 s of due time later
    t0 = probe["samples"][0]["t"]
    fake.samples = [dict(s, t=t0 + k + (0.015 if k == 10 else 0.002))
                    for k, s in enumerate(probe["samples"])]
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "25",
                     "--batch-seconds", "10") == 0
    sizes = [len(batch_lines(p)) for p in batch_files(out)]
    # a tick belongs to the batch of its due time: every batch holds 10 s of ticks
    assert sizes == [10, 10, 5]
    # the agent sleeps until the next due time: at most one interval, never negative
    assert len(fake.sleeps) == 24 and all(0 <= s <= 1 for s in fake.sleeps)


def test_agent_without_nvml_library_exits_2_with_a_clear_message(key_file, tmp_path, capsys):
    # real pynvml: this machine has no NVIDIA driver, nvmlInit raises LibraryNotFound
    with pytest.raises(pynvml.NVMLError_LibraryNotFound):
        pynvml.nvmlInit()
    rc = nvml_agent.main(["--node-id", NODE, "--key-file", str(key_file),
                          "--out", str(tmp_path / "out"), "--count", "1"])
    assert rc == 2
    assert "NVML shared library not found: is the NVIDIA driver installed?" in \
        capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_agent_with_fake_nvml_reads_a_keystore_and_never_prints_the_key(
        probe, monkeypatch, tmp_path, capsys, caplog):
    password = "correct horse battery staple"
    keystore = tmp_path / "node.json"
    keystore.write_text(json.dumps(Account.encrypt(TEST_KEY, password, iterations=2)))
    monkeypatch.setenv("AIDNAV_AGENT_KEYSTORE_PASSWORD", password)
    fake = FakeNvml(probe, n_gpus=1)
    out = tmp_path / "out"
    with caplog.at_level(logging.DEBUG):
        assert run_agent(fake, monkeypatch, keystore, out, "--count", "2") == 0
    (batch,) = batch_files(out)
    sig = json.loads((batch.parent / (batch.name + ".sig")).read_text())
    digest = hashlib.sha256(batch.read_bytes()).digest()
    assert Account.recover_message(encode_defunct(primitive=digest),
                                   signature=sig["signature"]).lower() == TEST_ADDR
    captured = capsys.readouterr()
    everything = (captured.out + captured.err + caplog.text
                  + "".join(p.read_text() for p in out.rglob("*.sig"))
                  + "".join("\n".join(batch_lines(p)) for p in batch_files(out))).lower()
    assert TEST_ADDR in everything                   # the address is logged, the key not
    assert TEST_KEY.hex() not in everything
    assert password not in everything


def test_agent_rejects_a_bad_key_file_without_echoing_it(tmp_path, capsys, monkeypatch):
    secret_like = "ab" * 31                              # 62 hex digits: one byte short
    bad = tmp_path / "bad.key"
    bad.write_text(secret_like)
    rc = nvml_agent.main(["--node-id", NODE, "--key-file", str(bad), "--out",
                          str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "expected 64 hex digits" in err and secret_like not in err

    keystore = tmp_path / "ks.json"
    keystore.write_text(json.dumps(Account.encrypt(TEST_KEY, "pw", iterations=2)))
    monkeypatch.delenv("AIDNAV_AGENT_KEYSTORE_PASSWORD", raising=False)
    assert nvml_agent.main(["--node-id", NODE, "--key-file", str(keystore), "--out",
                            str(tmp_path / "out")]) == 2
    assert "AIDNAV_AGENT_KEYSTORE_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("AIDNAV_AGENT_KEYSTORE_PASSWORD", "wrong")
    assert nvml_agent.main(["--node-id", NODE, "--key-file", str(keystore), "--out",
                            str(tmp_path / "out")]) == 2
    assert "cannot be decrypted" in capsys.readouterr().err


def test_batch_folder_is_the_utc_date_of_the_first_sample(tmp_path):
    first = datetime(2026, 3, 1, 23, 59, 30, tzinfo=timezone.utc).timestamp()
    samples = [{"ts": "2026-03-01T23:59:30.000Z"}, {"ts": "2026-03-02T00:00:30.000Z"}]
    path = nvml_agent.write_batch(tmp_path, NODE, first, samples, TEST_KEY)
    assert path.parent == tmp_path / "2026-03-01" / NODE
    assert batch_lines(path) == [json.dumps(s, separators=(",", ":"))
                                             for s in samples]


def test_agent_with_fake_nvml_skips_a_gpu_without_handle_at_start(
        probe, monkeypatch, key_file, tmp_path, caplog):
    fake = FakeNvml(probe, n_gpus=3)
    fake.lost_at[0] = 0                                  # gone before the agent starts
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        assert run_agent(fake, monkeypatch, key_file, out, "--count", "4") == 0
    samples = read_samples(out)
    assert [len(by_gpu(samples, u)) for u in fake.uuids] == [0, 4, 4]
    assert any("GPU index 0 not sampled" in r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR)


@pytest.mark.parametrize("stop", ["sigterm", "ctrl-c"])
def test_agent_with_fake_nvml_closes_the_open_batch_when_stopped(
        probe, monkeypatch, key_file, tmp_path, stop):
    fake = FakeNvml(probe, n_gpus=2)
    real_sleep = fake.sleep
    before = signal.getsignal(signal.SIGTERM)

    def sleep_then_stop(seconds: float) -> None:
        if fake.tick == 4:
            if stop == "sigterm":
                assert signal.getsignal(signal.SIGTERM) is not before, "no SIGTERM handler"
                os.kill(os.getpid(), signal.SIGTERM)      # the handler main() installed
            raise KeyboardInterrupt
        real_sleep(seconds)

    fake.sleep = sleep_then_stop
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out) == 0     # no --count: runs until stopped
    (batch,) = batch_files(out)
    assert len(batch_lines(batch)) == 10                         # 5 ticks x 2 GPUs
    assert (batch.parent / (batch.name + ".sig")).is_file()
    assert signal.getsignal(signal.SIGTERM) is before             # handler restored


def test_agent_with_fake_nvml_stops_after_max_seconds(probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=1)
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--max-seconds", "5") == 0
    assert len(read_samples(out)) == 6                  # due at 0, 1, ..., 5 s


def test_agent_with_fake_nvml_counts_memory_without_the_driver_reservation(
        probe, monkeypatch, key_file, tmp_path):
    fake = FakeNvml(probe, n_gpus=1)
    out = tmp_path / "out"
    assert run_agent(fake, monkeypatch, key_file, out, "--count", "30") == 0
    used = [s["mem_used_mib"] for s in read_samples(out)]
    # probe (v1) used bytes minus the 480 MiB reservation, floored to MiB
    assert used == [(s["mem"]["used"] - RESERVED) // MIB for s in probe["samples"][:30]]
    assert used[0] == 0


def test_agent_with_fake_nvml_falls_back_to_v1_memory_on_an_old_driver(
        probe, monkeypatch, key_file, tmp_path, caplog):
    fake = FakeNvml(probe, n_gpus=1)
    fake.memory_v2 = False
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        assert run_agent(fake, monkeypatch, key_file, out, "--count", "5") == 0
    assert [s["mem_used_mib"] for s in read_samples(out)] == \
        [s["mem"]["used"] // MIB for s in probe["samples"][:5]]
    warnings = [r for r in caplog.records if "no v2 memory info" in r.getMessage()]
    assert len(warnings) == 1                       # noted once, not on every reading
