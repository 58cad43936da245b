"""The thin seam between the node agent and NVML (`pynvml` from nvidia-ml-py).

`PynvmlBackend` calls pynvml directly and returns readings in NVML's own units (bytes,
milliwatts, millijoules); the agent turns them into samples. A call that answers
`NVMLError_NotSupported` gives None ("field absent"); a GPU that is lost or gone raises
`GpuLost`; a missing NVML library raises `NvmlUnavailable`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pynvml

log = logging.getLogger(__name__)

T = TypeVar("T")

# errors that mean the device itself is gone (not just one unreadable field)
_LOST_ERRORS = (pynvml.NVMLError_GpuIsLost, pynvml.NVMLError_NotFound)


class NvmlUnavailable(RuntimeError):
    """NVML cannot be used on this machine (no library, no driver)."""


class GpuLost(RuntimeError):
    """The GPU stopped answering (lost, removed, handle invalid)."""


@dataclass(frozen=True)
class GpuIdentity:
    index: int
    uuid: str
    serial: str | None
    pci_bus_id: str | None


@dataclass(frozen=True)
class GpuReading:
    """One reading in NVML units; None where the device does not support the field."""

    gpu_util_pct: int | None
    mem_util_pct: int | None
    mem_used_bytes: int | None
    power_mw: int | None
    energy_mj: int | None
    temp_c: int | None
    sm_clock_mhz: int | None
    xid_errors: int | None       # XID critical events since the previous reading
    ecc_dbe_count: int | None    # volatile uncorrected ECC errors
    throttle_reasons: int | None  # clock-event reasons bit mask
    fan_speed_pct: int | None


class NvmlBackend(Protocol):
    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def device_count(self) -> int: ...
    def open(self, index: int) -> GpuIdentity: ...
    def read(self, gpu: GpuIdentity) -> GpuReading: ...


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class PynvmlBackend:
    """The default backend: pynvml calls, nothing else."""

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}
        self._event_sets: dict[str, Any] = {}
        self._memory_v1: set[str] = set()

    def init(self) -> None:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError_LibraryNotFound:
            raise NvmlUnavailable(
                "NVML shared library not found: is the NVIDIA driver installed?") from None
        except pynvml.NVMLError_DriverNotLoaded:
            raise NvmlUnavailable(
                "NVIDIA driver not loaded: NVML cannot reach the GPUs") from None

    def shutdown(self) -> None:
        for uuid, es in list(self._event_sets.items()):
            try:
                pynvml.nvmlEventSetFree(es)
            except pynvml.NVMLError as e:
                log.debug("event set of %s not freed: %s", uuid, e)
        self._event_sets.clear()
        self._handles.clear()
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError as e:
            log.warning("nvmlShutdown failed: %s", e)

    def device_count(self) -> int:
        return int(pynvml.nvmlDeviceGetCount())

    def open(self, index: int) -> GpuIdentity:
        """Handle, identity and an XID event set for the GPU at `index`."""
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
        except pynvml.NVMLError as e:
            raise GpuLost(f"GPU index {index}: no handle ({e})") from e
        serial = self._optional(uuid, lambda: _text(pynvml.nvmlDeviceGetSerial(handle)))
        pci = self._optional(uuid, lambda: _text(pynvml.nvmlDeviceGetPciInfo(handle).busId))
        try:
            es = pynvml.nvmlEventSetCreate()
            pynvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, es)
            self._event_sets[uuid] = es
        except pynvml.NVMLError_NotSupported:
            log.warning("GPU %s: XID events not supported; xid_errors will be null", uuid)
        self._handles[uuid] = handle
        return GpuIdentity(index, uuid, serial, pci)

    def read(self, gpu: GpuIdentity) -> GpuReading:
        h = self._handles.get(gpu.uuid)
        if h is None:
            raise GpuLost(f"GPU {gpu.uuid}: not opened")
        u = gpu.uuid
        util = self._optional(u, lambda: pynvml.nvmlDeviceGetUtilizationRates(h))
        mem = self._memory(u, h)
        return GpuReading(
            gpu_util_pct=None if util is None else int(util.gpu),
            mem_util_pct=None if util is None else int(util.memory),
            mem_used_bytes=None if mem is None else int(mem.used),
            power_mw=self._optional(u, lambda: int(pynvml.nvmlDeviceGetPowerUsage(h))),
            energy_mj=self._optional(
                u, lambda: int(pynvml.nvmlDeviceGetTotalEnergyConsumption(h))),
            temp_c=self._optional(u, lambda: int(
                pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))),
            sm_clock_mhz=self._optional(u, lambda: int(
                pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))),
            xid_errors=self._xid_count(u),
            ecc_dbe_count=self._optional(u, lambda: int(pynvml.nvmlDeviceGetTotalEccErrors(
                h, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC))),
            throttle_reasons=self._optional(
                u, lambda: int(pynvml.nvmlDeviceGetCurrentClocksEventReasons(h))),
            fan_speed_pct=self._optional(u, lambda: int(pynvml.nvmlDeviceGetFanSpeed(h))),
        )

    def _memory(self, uuid: str, h: Any) -> Any:
        """Memory info whose `used` leaves out the driver's reserved memory, as nvidia-smi
        shows it (`nvmlDeviceGetMemoryInfo_v2`). The v1 call counts the reservation as used:
        on an idle H100 it answered 480 MiB where nvidia-smi showed 0. Drivers without
        the v2 call get v1, once noted in the log."""
        if uuid not in self._memory_v1:
            try:
                return self._call(uuid, lambda: pynvml.nvmlDeviceGetMemoryInfo(
                    h, version=pynvml.nvmlMemory_v2))
            except (pynvml.NVMLError_FunctionNotFound, pynvml.NVMLError_NotSupported,
                    pynvml.NVMLError_ArgumentVersionMismatch) as e:
                log.warning("GPU %s: no v2 memory info (%s); memory used includes the "
                            "driver's reserved memory", uuid, type(e).__name__)
                self._memory_v1.add(uuid)
        return self._optional(uuid, lambda: pynvml.nvmlDeviceGetMemoryInfo(h))

    def _xid_count(self, uuid: str) -> int | None:
        """Drain the GPU's XID event set without blocking (timeout 0)."""
        es = self._event_sets.get(uuid)
        if es is None:
            return None
        n = 0
        while True:
            try:
                data = self._call(uuid, lambda: pynvml.nvmlEventSetWait_v2(es, 0))
            except pynvml.NVMLError_Timeout:
                return n
            n += 1
            log.warning("GPU %s: XID %s", uuid, getattr(data, "eventData", "?"))

    def _call(self, uuid: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _LOST_ERRORS as e:
            self._handles.pop(uuid, None)
            raise GpuLost(f"GPU {uuid}: {type(e).__name__}: {e}") from e

    def _optional(self, uuid: str, fn: Callable[[], T]) -> T | None:
        """`fn()`, or None when NVML says the field is not supported on this device."""
        try:
            return self._call(uuid, fn)
        except pynvml.NVMLError_NotSupported:
            return None
