"""Runs that write the warehouse follow one another: the warehouse resource takes
`<warehouse>.run-lock` for the whole run. Real processes and a real Dagster run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from ingestion.warehouse import (WarehouseBusy, acquire_run_lock, release_run_lock,
                                 run_lock_path)
from orchestration.resources import WarehouseResource

HOLD = """
import sys, time
from ingestion.warehouse import acquire_run_lock
acquire_run_lock(sys.argv[1], "run held-by-test", 5)
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_writer_waits_names_the_holder_and_gets_the_lock_when_it_dies(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(warehouse)],
                              stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout.readline().strip() == "held"
        waits: list[str] = []
        t0 = time.monotonic()
        with pytest.raises(WarehouseBusy, match=f"taken by pid {holder.pid}, run held-by-test"):
            acquire_run_lock(warehouse, "run second", 1.0, on_wait=waits.append, poll_s=0.1)
        assert time.monotonic() - t0 >= 1.0
        assert len(waits) == 1 and waits[0].startswith(f"pid {holder.pid}, run held-by-test")
        holder.kill()                  # a crashed run: its lock goes with it
        holder.wait()
        fd = acquire_run_lock(warehouse, "run second", 5.0)
        assert run_lock_path(warehouse).read_text().startswith("pid ")
        release_run_lock(fd)
        assert run_lock_path(warehouse).read_text() == ""
    finally:
        holder.kill()
        holder.wait()


def test_the_warehouse_resource_holds_the_lock_through_the_run_and_gives_it_back(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    seen: list[str] = []

    @dg.op
    def try_to_write(warehouse: WarehouseResource) -> None:
        try:
            fd = acquire_run_lock(warehouse.settings().warehouse_path, "run intruder", 0.2,
                                  poll_s=0.05)
        except WarehouseBusy as e:
            seen.append(str(e))
        else:
            release_run_lock(fd)
            seen.append("acquired")

    @dg.job(resource_defs={"warehouse": WarehouseResource(data_dir=str(tmp_path))})
    def one_writer():
        try_to_write()

    result = one_writer.execute_in_process()
    assert result.success
    assert len(seen) == 1 and f"run {result.run_id}" in seen[0]    # taken for the whole run
    fd = acquire_run_lock(warehouse, "after the run", 0.2)        # and given back after it
    release_run_lock(fd)
