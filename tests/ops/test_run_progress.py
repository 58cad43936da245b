"""`aidnav run` follows a long run (a backfill) with a bar over the job's steps: the bar's
thread reads the run's step events from the Dagster instance while the run goes on."""

from __future__ import annotations

import io
import time

import dagster as dg

from orchestration.runner import StepProgress


@dg.op
def slow_a() -> int:
    time.sleep(0.6)
    return 1


@dg.op
def slow_b(x: int) -> int:
    time.sleep(0.6)
    return x + 1


@dg.op
def slow_c(x: int) -> int:
    return x + 1


@dg.job
def three_steps():
    slow_c(slow_b(slow_a()))


def test_the_bar_counts_every_step_of_the_run_in_order(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with dg.DagsterInstance.ephemeral() as instance:
        run_id = "6b0f3c3e-0000-4000-8000-000000000001"
        with StepProgress(instance, run_id, 3, "three_steps", enabled=True,
                          interval_s=0.1) as progress:
            result = three_steps.execute_in_process(instance=instance, run_id=run_id)
        assert result.success
    assert progress.steps_done == ["slow_a", "slow_b", "slow_c"]
    # the bar was drawn while the run went on, and ended full
    assert "three_steps" in err.getvalue() and "3/3" in err.getvalue()


def test_a_failed_step_still_moves_the_bar(monkeypatch):
    @dg.op
    def broken() -> int:
        raise ValueError("no landing files")

    @dg.job
    def fails():
        slow_c(broken())

    monkeypatch.setattr("sys.stderr", io.StringIO())
    with dg.DagsterInstance.ephemeral() as instance:
        run_id = "6b0f3c3e-0000-4000-8000-000000000002"
        with StepProgress(instance, run_id, 2, "fails", enabled=True,
                          interval_s=0.1) as progress:
            result = fails.execute_in_process(instance=instance, run_id=run_id,
                                              raise_on_error=False)
    assert not result.success
    assert progress.steps_done[0] == "broken"
