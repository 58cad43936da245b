"""Slips on the command line end in one line on stderr, `error: ...`, and exit code 2,
without a traceback or a usage block; every option says what it takes; `--version`;
`make help` names every target and `make ui PORT=N` passes the port on. Each case runs
the real `aidnav` entry point (or make) in a subprocess."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

AIDNAV = str(Path(sys.executable).parent / "aidnav")
REPO = Path(__file__).resolve().parents[2]
TODAY = datetime.now(timezone.utc).date()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "AIDNAV_DATA_DIR": str(tmp_path / "data"),
           "AIDNAV_RPC_URL": "http://127.0.0.1:9"}
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE"):
        env.pop(name, None)
    return env


def _aidnav(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AIDNAV, *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def _one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in done.stderr
    return lines[0]


def test_version(env):
    done = _aidnav(["--version"], env)
    assert done.returncode == 0 and done.stdout.strip() == "aidnav 0.1.0"  # pyproject.toml


@pytest.mark.parametrize("args, expected", [
    (["run", "--date", "2026-13-01"],
     "error: aidnav run: argument --date: expected a date as YYYY-MM-DD, got '2026-13-01'"
     " — see `aidnav run --help`"),
    (["run", "--start", "20-11-2026"],
     "error: aidnav run: argument --start: expected a date as YYYY-MM-DD, got '20-11-2026'"
     " — see `aidnav run --help`"),
    (["run", "--start", "2026-11-20", "--end", "2026-11-10"],
     "error: the range ends (2026-11-10) before it starts (2026-11-20) — give --start on "
     "or before --end"),
    (["run", "--date", "2026-11-20", "--start", "2026-11-19"],
     "error: --date is one day, --start/--end a range — give one or the other"),
    (["replay", "/nonexistent/bundle", "--start", "2026-01-25", "--end", "2026-01-20",
      "--out", "/tmp/x"],
     "error: no replay bundle at /nonexistent/bundle — give the folder that "
     "`aidnav export-bundle --out` wrote"),
    (["frobnicate"], None),
])
def test_a_slip_is_one_line(env, args, expected):
    line = _one_line(_aidnav(args, env))
    if expected is not None:
        assert line == expected
    else:
        assert line.startswith("error: aidnav: argument COMMAND: invalid choice: 'frobnicate'")


def test_a_day_that_has_not_ended(env):
    for args in (["run", "--date", TODAY.isoformat()],
                 ["demo", "--end-day", TODAY.isoformat(), "--no-run"]):
        assert _one_line(_aidnav(args, env)) == (
            f"error: {TODAY} has not ended yet (UTC) — the last day that can be run is "
            f"{YESTERDAY}")


def test_missing_paths_are_named(env):
    data = Path(env["AIDNAV_DATA_DIR"])
    assert _one_line(_aidnav(["run", "--date", "2026-11-20"], env)) == (
        f"error: no registry at {data / 'registry'} — set AIDNAV_DATA_DIR to the data "
        "directory, or write the demo book there with `aidnav demo --no-run`")
    assert _one_line(_aidnav(["export-bundle", "--out", str(data / "b")], env)) == (
        f"error: no warehouse at {data / 'warehouse.duckdb'} — run `aidnav run` or "
        "`aidnav demo` first, or set AIDNAV_DATA_DIR to the data directory")


def test_every_option_says_what_it_takes():
    from aidnav.cli import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    seen = 0
    for parser in parsers(build_parser()):
        for action in parser._actions:
            if action.dest in ("help", "command", "rewards_command"):
                continue
            seen += 1
            assert action.help, f"{parser.prog} {action.option_strings or action.dest}"
            if action.type is not None and getattr(action.type, "__name__", "") == "_parse_day":
                assert action.metavar == "YYYY-MM-DD", f"{parser.prog} {action.option_strings}"
    assert seen > 25


def test_make_help_names_every_target():
    makefile = (REPO / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    done = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    named = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("make ")}
    assert set(phony) <= named, set(phony) - named


def test_make_ui_passes_the_port_on():
    # run as `make test` runs it too: a make inside make prints its directory unless told not
    done = subprocess.run(["make", "-n", "--no-print-directory", "ui", "PORT=3123"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1] == ".venv/bin/aidnav ui --port 3123"
