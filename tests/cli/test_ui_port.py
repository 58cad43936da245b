"""`aidnav ui --port N` serves the Dagster UI on that port, from an instance without
telemetry or newsletter dialog; an operator's own dagster.yaml is never rewritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from onchain.testing import free_port

AIDNAV = str(Path(sys.executable).parent / "aidnav")


def _get(url: str, body: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read().decode()


def test_the_ui_on_the_port_asked(tmp_path):
    port = free_port()
    env = {**os.environ, "AIDNAV_DATA_DIR": str(tmp_path / "data")}
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE"):
        env.pop(name, None)
    log = (tmp_path / "ui.log").open("w")
    ui = subprocess.Popen([AIDNAV, "ui", "--port", str(port)], env=env, stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and ui.poll() is None:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/server_info")
                break
            except OSError:
                time.sleep(1)
        assert status == 200, (tmp_path / "ui.log").read_text()[-3000:]
        _, answer = _get(f"http://127.0.0.1:{port}/graphql", {"query": "{ shouldShowNux }"})
        assert json.loads(answer)["data"]["shouldShowNux"] is False
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            ui.wait()
        log.close()
    instance = (tmp_path / "data" / "dagster" / "dagster.yaml").read_text()
    assert "telemetry:\n  enabled: false" in instance
    assert "Welcome to Dagster" not in (tmp_path / "ui.log").read_text()


def test_an_instance_file_is_written_once_and_an_operators_kept(tmp_path, monkeypatch):
    from aidnav.config import prepare_environment
    from aidnav.config import load_settings

    def prepare(home: Path) -> str:
        for name, value in {"AIDNAV_DATA_DIR": tmp_path / "data", "DAGSTER_HOME": home,
                            "AIDNAV_WAREHOUSE": tmp_path / "w.duckdb",
                            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                            "GX_ANALYTICS_ENABLED": "false", "DBT_USE_COLORS": "false"}.items():
            monkeypatch.setenv(name, str(value))
        prepare_environment(load_settings())
        return (home / "dagster.yaml").read_text()

    quiet = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
    assert quiet in prepare(tmp_path / "none")  # no instance file yet
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "dagster.yaml").touch()  # what earlier versions left
    assert quiet in prepare(tmp_path / "empty")
    own = "run_coordinator:\n  module: dagster.core.run_coordinator\n"
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "dagster.yaml").write_text(own)
    assert prepare(tmp_path / "own") == own
