"""`aidnav run` ends a failed run with one line, `error: <cause> — <remedy>`, and no
traceback: a chain that does not answer (with its URL), a day before the book's inception
(with the date, at once), a data directory that is read-only or on a full disk (with its
path). Each runs the real command on a small demo book."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from onchain.testing import free_port

AIDNAV = str(Path(sys.executable).parent / "aidnav")
END_DAY = date(2026, 11, 20)
DAYS = 2
INCEPTION = END_DAY - timedelta(days=DAYS - 1)  # the demo book starts on its first day


def _book(data: Path) -> Path:
    from demo import generate_offchain

    generate_offchain(data, END_DAY, days=DAYS, progress=False, scale=0.05)
    return data


def _env(data: Path) -> dict[str, str]:
    env = {**os.environ, "AIDNAV_DATA_DIR": str(data),
           "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE"):  # both follow the data directory
        env.pop(name, None)
    return env


def _run(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([AIDNAV, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    return done, time.monotonic() - started


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, done.stdout[-2000:]
    return lines[-1]


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on which the test mounts its own tmpfs (root can write anywhere on
    an ordinary folder whatever its mode: only a read-only or full file system stops it)."""
    point = tmp_path / "mnt"
    point.mkdir()
    yield point
    subprocess.run(["umount", str(point)], capture_output=True)


def _mount(point: Path, options: str) -> None:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


def test_an_rpc_that_does_not_answer_is_named_with_its_url(tmp_path):
    env = _env(_book(tmp_path / "data"))
    done, _ = _run(["run", "--date", END_DAY.isoformat()], env)
    assert done.returncode == 2  # a chain to start or a URL to correct: the operator's
    last = _last_line(done)
    assert last.startswith(f"error: RPC unreachable at {env['AIDNAV_RPC_URL']} "
                           "(connection refused) — "), last
    assert "AIDNAV_RPC_URL" in last.split(" — ")[1]
    assert "Traceback" not in done.stderr and "Execution of step" not in done.stderr


def test_a_day_before_inception_is_refused_at_once_with_the_date(tmp_path):
    env = _env(_book(tmp_path / "data"))
    before = INCEPTION - timedelta(days=1)
    done, seconds = _run(["run", "--date", before.isoformat()], env)
    assert done.returncode == 2
    assert _last_line(done) == (f"error: {before} is before the book's inception {INCEPTION}"
                                " — run a day from the inception on")
    assert seconds < 15  # not a suite failing half a minute into a run
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_a_read_only_data_directory_is_named(tmp_path, mount_point):
    _mount(mount_point, "size=16m")
    data = _book(mount_point / "data")
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
    done, _ = _run(["run", "--date", END_DAY.isoformat()], _env(data))
    assert done.returncode == 2
    last = _last_line(done)
    assert last.startswith(f"error: not writable: {data} — "), last
    assert "Traceback" not in done.stderr


def test_a_full_disk_is_named(tmp_path, mount_point):
    _mount(mount_point, "size=4m")
    data = _book(mount_point / "data")
    filler = mount_point / "filler"
    with filler.open("wb", buffering=0) as f:  # the rest of the disk, to the last block
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    assert shutil.disk_usage(mount_point).free < 65536
    done, _ = _run(["run", "--date", END_DAY.isoformat()], _env(data))
    assert done.returncode == 1
    last = _last_line(done)
    assert last.startswith(f"error: disk full: {data} — "), last
    assert "Traceback" not in done.stderr and "OperationalError" not in done.stderr


def test_a_demo_on_a_read_only_data_directory_stops_before_writing(tmp_path, mount_point):
    _mount(mount_point, "size=1m,ro")
    data = mount_point / "data"
    done, seconds = _run(["demo", "--days", "2", "--end-day", END_DAY.isoformat(),
                          "--scale", "0.05"], _env(data))
    assert done.returncode == 2
    last = _last_line(done)
    assert last.startswith(f"error: not writable: {data} — "), last
    assert "Traceback" not in done.stderr
    assert seconds < 15


@pytest.mark.chain
@pytest.mark.slow
def test_a_chain_stopped_after_the_book_was_posted_is_named_with_its_url(tmp_path, monkeypatch):
    """A real anvil with the book's contracts and scenario on it, then stopped: the run
    does not end on "Execution of step ... failed" but on the node and what to do."""
    from aidnav.config import load_settings
    from demo.prepare import prepare_book
    from onchain import anvil

    data = tmp_path / "data"
    env = _env(data)
    for name in ("AIDNAV_DATA_DIR", "AIDNAV_RPC_URL"):
        monkeypatch.setenv(name, env[name])
    # the book's preparation sets these for its Dagster and dbt: restored after the test
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE", "DBT_SEND_ANONYMOUS_USAGE_STATS",
                 "GX_ANALYTICS_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    try:
        prepare_book(load_settings(), DAYS, END_DAY, scale=0.05, progress=False)
    finally:
        stopped = anvil.stop(data / "chain")
    assert stopped
    done, _ = _run(["run", "--date", END_DAY.isoformat()], env)
    assert done.returncode == 2  # a chain to start or a URL to correct: the operator's
    last = _last_line(done)
    assert last.startswith(f"error: RPC unreachable at {env['AIDNAV_RPC_URL']} "
                           "(connection refused) — "), last
    assert "Traceback" not in done.stderr
