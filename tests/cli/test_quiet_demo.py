"""`aidnav demo` as a user sees it with its output in a file: no dbt or Dagster log, no
Python object dumps, no colour codes, no progress bar glued into one line, but a line per
finished step and a closing summary that says what was computed, posted and sent (nothing
on the second run: already on chain) and where the report, exports, log and UI are.
`-v` brings dbt's log back; `rewards proof` shows GAIB beside wei."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from onchain.testing import free_port

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

AIDNAV = str(Path(sys.executable).parent / "aidnav")
END_DAY = date(2026, 11, 20)
DAYS = 2
FIRST_DAY = END_DAY - timedelta(days=DAYS - 1)
LABEL = f"daily_nav {FIRST_DAY} .. {END_DAY}"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AIDNAV, *args], env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("quiet") / "data"
    env = {**os.environ, "AIDNAV_DATA_DIR": str(data),
           "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    for name in ("DAGSTER_HOME", "AIDNAV_WAREHOUSE", "AIDNAV_CHAIN_TARGETS"):
        env.pop(name, None)
    args = ["demo", "--days", str(DAYS), "--end-day", END_DAY.isoformat(), "--scale", "0.05"]
    try:
        first = _run(args, env)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        second = _run(args, env)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        yield env, data, first, second
    finally:
        _run(["chain", "down"], env)


def test_no_log_dump_or_colour_in_a_file(demo):
    _, data, first, second = demo
    for done in (first, second):
        for noise in ("Running with dbt", "START sql", "Welcome to Dagster", "AnvilStatus(",
                      "ChainScenarioResult(", "Decimal(", "\x1b[", "Traceback"):
            assert noise not in done.stdout + done.stderr, noise
        assert "\r" not in done.stderr  # no progress bar redrawn in a file
        assert len(done.stdout.splitlines()) < 40
    assert "Running with dbt" in (data / "logs" / "runs.log").read_text()


def test_a_plain_line_per_finished_step(demo):
    _, _, first, _ = demo
    steps = [line for line in first.stderr.splitlines() if line.startswith(LABEL + ": step ")]
    assert steps, first.stderr
    assert steps[0].startswith(f"{LABEL}: step 1 of ")
    assert all(line.endswith(" ok") for line in steps)
    total = int(steps[0].split(" of ")[1].split()[0])
    assert len(steps) == total


def test_the_closing_summary(demo):
    _, data, first, second = demo
    # each day posts its NAV and its rewards root on the one chain: 2 days, 4 transactions
    assert ("2 of 2 day(s) computed, 2 on chain, 4 transaction(s) sent, 0 check(s) failed"
            in first.stdout.splitlines())
    assert ("2 of 2 day(s) computed, 2 on chain, 0 transaction(s) sent (already on chain), "
            "0 check(s) failed" in second.stdout.splitlines())
    see = second.stdout.splitlines()[-1]
    assert see == (f"see: report {data / 'reports' / 'html' / f'{END_DAY}.html'}, "
                   f"exports {data / 'exports'}, log {data / 'logs' / 'runs.log'}, "
                   "UI `aidnav ui` (http://127.0.0.1:3000)")
    assert "0 transactions sent: already on chain" in second.stdout


def test_verbose_brings_the_dbt_log_back(demo):
    env, _, _, _ = demo
    done = _run(["run", "--date", END_DAY.isoformat(), "-v"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Running with dbt" in done.stdout


def test_rewards_proof_in_gaib_beside_wei(demo):
    env, data, _, _ = demo
    import json

    report = json.loads((data / "reports" / "rewards" / f"{END_DAY}.json").read_text())
    leaf = report["leaves"][0]
    wei = leaf["cumulative_wei"]
    # by hand: the last 18 digits are the decimals, the rest thousands-grouped
    whole, decimals = wei[:-18] or "0", wei[-18:].rjust(18, "0")
    expected = f"{int(whole):,}.{decimals} GAIB  ({wei} wei)"
    for extra in ([], ["--offline"]):
        done = _run(["rewards", "proof", leaf["account"], *extra], env)
        assert done.returncode == 0, done.stderr
        line = next(x for x in done.stdout.splitlines() if x.startswith("cumulative"))
        assert re.sub(r"^cumulative\s+", "", line) == expected
