"""The finished steps of a run, read back from a Dagster instance's event log (the
benchmark times its stages with them), and the names of the job's quality checks."""

from __future__ import annotations

import time
from collections import Counter
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


def job_run_log(dagster_home: Path, job: str) -> tuple[str, str, list]:
    """The one run of `job` in the instance at `dagster_home`: its id, its status and its
    event log entries (the event-bookkeeping benchmark counts them)."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs(dg.RunsFilter(job_name=job))
        return run.run_id, run.status.value, list(instance.all_logs(run.run_id))


def store_events_again(dagster_home: Path, entries: list) -> tuple[float, dict[str, float]]:
    """Store `entries` one by one into the (empty) instance at `dagster_home`, as a run
    stores them: the seconds in all, and by type of event."""
    by_type: Counter = Counter()
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        started = time.perf_counter()
        for entry in entries:
            before = time.perf_counter()
            instance.store_event(entry)
            event = entry.dagster_event
            by_type[event.event_type_value if event else "LOG_MESSAGE"] += (
                time.perf_counter() - before)
        total = time.perf_counter() - started
    return total, {k: round(v, 3) for k, v in by_type.most_common()}
