"""An unreachable Dask scheduler ends a command as an operator's slip: one line naming the
address and what to do, exit code 2, retried first like a node that is restarting."""

from __future__ import annotations

import socket

import pytest

from aidnav.failures import classify_exception
from ingestion.lake.engine import SchedulerUnreachable, dask_scheduler


def test_unreachable_scheduler_is_a_slip_naming_the_address(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SchedulerUnreachable) as raised:
        with dask_scheduler(address):
            pass
    try:  # as a step sees it: wrapped by the loader that was running
        raise RuntimeError("gpu_telemetry ingestion failed") from raised.value
    except RuntimeError as wrapped:
        cause = classify_exception(wrapped, rpc_url="http://127.0.0.1:8545")
    assert cause.kind == "dask_unreachable"
    assert address in cause.line and "AIDNAV_DASK_SCHEDULER" in cause.line
    assert "\n" not in cause.line
    assert cause.exit_code == 2 and cause.transient
