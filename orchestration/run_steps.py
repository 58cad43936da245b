"""The finished steps of a run, read back from a Dagster instance's event log (the
benchmark times its stages with them), and the names of the job's quality checks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


def quality_check_names() -> set[str]:
    """The name of every quality check of the daily job."""
    from orchestration.checks import QUALITY_CHECKS

    return {spec.name for c in QUALITY_CHECKS for spec in c.check_specs}


def last_run_steps(dagster_home: Path) -> tuple[str, list[tuple[str, float, float]]]:
    """The latest run of the instance in `dagster_home`: its id, and each of its steps
    that ended (succeeded or failed) as (step key, start, end) in unix seconds, in the
    order they ended."""
    steps: list[tuple[str, float, float]] = []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        started: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in started:
                steps.append((entry.step_key, started[entry.step_key], entry.timestamp))
    return run_id, steps
