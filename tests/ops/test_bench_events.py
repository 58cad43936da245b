"""The event-bookkeeping benchmark (demo/bench_events.py) on a 2-day backfill with Dagster's
SQLite storage: its JSON accounts for every event of the run (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aidnav.config import REPO_ROOT

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("bench_events")]

DAYS = 2


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench_events") / "events.json"
    done = subprocess.run(
        [sys.executable, "-m", "demo.bench_events", "--days", str(DAYS), "--storage", "sqlite",
         "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def test_every_event_of_the_run_is_counted_once_by_type(measured):
    assert measured["status"] == "SUCCESS"
    assert measured["events"] > 0
    assert measured["events"] == sum(measured["by_type"].values())
    # Dagster's API and the run's own SQLite shard (read with sqlite3) agree
    shard = f"history/runs/{measured['run_id']}.db"
    assert measured["storage_size"]["event_log_rows_by_file"][shard] == measured["events"]


def test_each_day_of_the_range_has_events(measured):
    assert list(measured["by_day"]) == ["2026-11-19", "2026-11-20"]
    assert all(n > 0 for n in measured["by_day"].values())
    assert measured["events_per_day"] == measured["events"] / DAYS > 0
    assert measured["events"] == sum(measured["by_day"].values()) + measured["outside_days"]
    # a materialization is planned before it happens: as many of each
    assert (measured["by_type"]["ASSET_MATERIALIZATION_PLANNED"]
            == measured["by_type"]["ASSET_MATERIALIZATION"])
