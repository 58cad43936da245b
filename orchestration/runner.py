"""Running the `daily_nav` job in this process, as the command line does: the same job
definition and instance as the UI's launches, so that every run shows in `dagster dev`.

`run_days` runs one day (a partition run) or a range (one single-run backfill), follows its
steps with a progress bar and reads back its outcome; `run_demo` prepares the demo book
(`demo.prepare`) and runs it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from aidnav.config import Settings, prepare_environment
from aidnav.console import end_with_error, print_closing, print_summary, transactions_recorded


def run_days(days: list[date], settings: Settings, progress: bool | None = None,
             verbose: bool = False) -> dict:
    """Run the `daily_nav` job over consecutive days through Dagster (runs show in the UI).

    One day is one partition run; several days are one single-run backfill over their
    range, exactly what the UI launches: models built once for the window, then each
    day published in order. With `progress` (default: when stderr is a terminal) a bar
    follows the run's steps as they finish. A failed run is told as its failed steps
    (each with its cause) and checks; "cause" in the result is the one to end with.
    Without `verbose` steps log only their warnings, one line each, no traceback.
    """
    prepare_environment(settings)
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.launch import execute_from_location
    from orchestration.partitions import run_partitions
    from orchestration.run_outcome import read_outcome, warnings_console_logger

    job = defs.resolve_job_def("daily_nav")
    if not verbose:
        job = job.with_logger_defs({"console": warnings_console_logger})
        # a failed dbt step leaves dagster-dbt's stream generator to the garbage collector,
        # which prints "Exception ignored in ... GeneratorExit" with a traceback
        sys.unraisablehook = lambda unraisable: None
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    partition_key, tags = run_partitions(days[0], days[-1])
    target: dict = ({"partition_key": partition_key} if partition_key else
                    {"tags": tags, "backfill_partitions": [day.isoformat() for day in days]})
    started = time.monotonic()
    posted_before = transactions_recorded(settings)
    log_path = None if verbose else settings.run_log
    with dg.DagsterInstance.get() as instance, contextlib.ExitStack() as stack:
        label = f"daily_nav {days[0]}" + (f" .. {days[-1]}" if len(days) > 1 else "")
        terminal = sys.stderr.isatty()
        enabled = terminal if progress is None else progress
        run_id = str(uuid.uuid4())  # known before the run starts, for the progress bar
        if log_path is not None:  # dbt's and Dagster's own output, kept out of the terminal
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(log_path.open("a", encoding="utf-8"))
            log.write(f"==> {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC {label} "
                      f"(run {run_id})\n")
            stack.enter_context(contextlib.redirect_stdout(log))
        plain = progress is None and not terminal  # a line per step in a file or a pipe
        with StepProgress(instance, run_id, len(job.graph.nodes), label, enabled or plain,
                          plain=plain):
            result = execute_from_location(job, instance, run_config=quiet, run_id=run_id,
                                           **target)
    report = read_outcome(result, rpc_url=settings.rpc_url, data_dir=settings.data_dir)
    outcome = {
        "days": days, "success": result.success, "run_id": result.run_id,
        "seconds": time.monotonic() - started,
        "cause": None if result.success else report.cause or unexplained(result.run_id),
        "transactions": transactions_recorded(settings) - posted_before,
        "checks_failed": len(report.failed_checks), "log": log_path,
    }
    if not result.success:
        print(f"daily_nav failed for {days[0]} .. {days[-1]} (run {result.run_id})",
              file=sys.stderr)
        for step, cause in report.failed_steps:
            print(f"  {step}: {cause.line}", file=sys.stderr)
        for check in report.failed_checks:
            print(f"  check {check.name} failed on {check.asset}: {check.description}",
                  file=sys.stderr)
    for check in report.warnings:
        print(f"warning: check {check.name} on {check.asset}: {check.description}",
              file=sys.stderr)
    return outcome


def unexplained(run_id: str):
    from aidnav.failures import Cause

    return Cause("unknown", f"run {run_id} failed without a failed step or check — "
                 "run again with -v, or open the run in `aidnav ui`")


def check_before_run(settings: Settings, days: list[date]) -> None:
    """Refuse, before any run starts, days the book cannot have (before its inception)
    and a data directory that cannot take the run's writes."""
    from aidnav.failures import check_data_dir, check_not_before_inception
    from ingestion.registry import parse_registry

    check_not_before_inception(days, parse_registry(settings.registry_dir).params.inception_date)
    check_data_dir(settings.data_dir)


_STEP_WORDS = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}


class StepProgress:
    """A progress bar over the steps of the run this process is executing: a thread reads
    the run's step events from the instance while the run goes on."""

    def __init__(self, instance, run_id: str, total: int, label: str, enabled: bool = True,
                 interval_s: float = 0.5, plain: bool = False):
        self.instance, self.run_id, self.total, self.label = instance, run_id, total, label
        self.enabled, self.interval_s = enabled, interval_s
        self.plain = plain  # one line per finished step (not a terminal) instead of a bar
        self.steps_done: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self, bar) -> None:
        import dagster as dg

        records = self.instance.get_records_for_run(
            self.run_id, of_type={dg.DagsterEventType.STEP_SUCCESS,
                                  dg.DagsterEventType.STEP_FAILURE,
                                  dg.DagsterEventType.STEP_SKIPPED}).records
        for record in records[len(self.steps_done):]:
            step = record.event_log_entry.step_key or "?"
            self.steps_done.append(step)
            if self.plain:
                kind = getattr(record.event_log_entry.dagster_event_type, "value", None)
                print(f"{self.label}: step {len(self.steps_done)} of {self.total} {step} "
                      f"{_STEP_WORDS.get(kind, 'done')}", file=sys.stderr, flush=True)
                continue
            bar.set_postfix_str(step[:48], refresh=False)
            bar.update()

    def _run(self) -> None:
        from tqdm import tqdm

        bar = tqdm(total=self.total, desc=self.label, unit="step",
                   disable=not self.enabled or self.plain, mininterval=0.5)
        try:
            while not self._stop.wait(self.interval_s):
                self._poll(bar)
            self._poll(bar)
        except Exception:  # the bar only follows the run: the run itself reports its errors
            pass
        finally:
            bar.close()

    def __enter__(self) -> "StepProgress":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_demo(
    settings: Settings, days: int, end_day: date, run_jobs: bool = True, scale: float = 1.0,
    verbose: bool = False,
) -> int:
    from aidnav.failures import check_data_dir
    from demo.prepare import done, prepare_book, step

    first_day = end_day - timedelta(days=days - 1)
    check_data_dir(settings.data_dir)
    prepare_book(settings, days, end_day, scale)
    if not run_jobs:
        return 0
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    t = step(f"daily_nav over the {days} days (one backfill run, each day published in order)")
    outcome = run_days(day_list, settings, verbose=verbose)
    print(f"    run {outcome['run_id']}: {'ok' if outcome['success'] else 'FAILED'}")
    done(t)
    print()
    print_summary(settings, day_list)
    print_closing(settings, day_list, outcome)
    return 0 if outcome["success"] else end_with_error(outcome["cause"])
