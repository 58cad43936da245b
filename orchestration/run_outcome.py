"""What a run's failure was, for people: retries only where a second try can pass, the
root cause of a failed step in one line, warning checks apart from the failed ones.

The decisions are `aidnav.failures`'s; this module only reads and raises Dagster's
objects around them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from aidnav.failures import Cause, ErrorLink, classify, classify_exception

# a step that fails on a blocking check's result: the check's own evaluation says why
CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"


@contextmanager
def retried_only_when_transient(context: dg.OpExecutionContext, policy: dg.RetryPolicy,
                                *, rpc_url: str | None = None,
                                data_dir: Path | str | None = None) -> Iterator[None]:
    """Around a step's work: an error that can pass on a second try (a connection, a
    timeout, a lock) is retried as `policy` says; any other fails the step at once,
    its cause and remedy as the failure's one line. Dagster's RetryPolicy alone would
    retry every error, a bad cast or an exhausted memory included."""
    try:
        yield
    except (dg.Failure, dg.RetryRequested):
        raise
    except Exception as exc:
        cause = classify_exception(exc, rpc_url=rpc_url, data_dir=data_dir)
        attempt = context.retry_number
        if cause.transient and attempt < policy.max_retries:
            wait_s = policy.calculate_delay(attempt + 1)
            context.log.warning(f"{cause.line.split(' — ')[0]}; try {attempt + 2} of "
                                f"{policy.max_retries + 1} in {wait_s:g} s")
            raise dg.RetryRequested(max_retries=policy.max_retries,
                                    seconds_to_wait=wait_s) from exc
        raise cause_failure(cause) from exc


def cause_failure(cause: Cause) -> dg.Failure:
    return dg.Failure(description=cause.line, allow_retries=False, metadata={
        "cause": cause.kind, "transient": cause.transient, "operator": cause.operator})


def error_links(error) -> list[ErrorLink]:
    """A recorded error (Dagster's SerializableErrorInfo) and its causes, outermost first."""
    links: list[ErrorLink] = []
    pending = [error]
    while pending:
        current = pending.pop(0)
        if current is None:
            continue
        links.append(ErrorLink.of(current.cls_name or "Exception", current.message or ""))
        pending[:0] = [current.cause, current.context]
    return links


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    asset: str
    description: str


@dataclass
class RunOutcome:
    failed_steps: list[tuple[str, Cause]] = field(default_factory=list)
    failed_checks: list[CheckOutcome] = field(default_factory=list)
    warnings: list[CheckOutcome] = field(default_factory=list)

    @property
    def cause(self) -> Cause | None:
        """The run's one cause: its first failed step's, else its first failed check."""
        if self.failed_steps:
            return self.failed_steps[0][1]
        if self.failed_checks:
            c = self.failed_checks[0]
            more = len(self.failed_checks) - 1
            return Cause("check", f"check {c.name} failed on {c.asset}: {c.description}"
                         + (f" (and {more} more check(s))" if more else "")
                         + " — nothing after it ran; correct the data it names and run again")
        return None


def read_outcome(result, *, rpc_url: str | None = None,
                 data_dir: Path | str | None = None) -> RunOutcome:
    """The failed steps (each with its cause), the failed blocking checks and the checks
    that only warn, from a finished run's events."""
    outcome = RunOutcome()
    for event in result.all_events:
        if event.is_step_failure:
            data = event.event_specific_data
            failure = data.user_failure_data
            if failure is not None and "cause" in (failure.metadata or {}):
                meta = failure.metadata
                cause = Cause(str(meta["cause"].value), failure.description or "",
                              bool(meta["transient"].value), bool(meta["operator"].value))
            else:
                links = error_links(data.error)
                if any(link.name == CHECK_FAILED_ERROR for link in links):
                    continue
                cause = classify(links, rpc_url=rpc_url, data_dir=data_dir)
            outcome.failed_steps.append((event.step_key or "?", cause))
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                continue
            check = CheckOutcome(evaluation.check_name,
                                 "/".join(evaluation.asset_key.path),
                                 evaluation.description or "")
            if evaluation.severity == dg.AssetCheckSeverity.WARN:
                outcome.warnings.append(check)
            else:
                outcome.failed_checks.append(check)
    return outcome


class _WarningsOnly(logging.Handler):
    """One line per warning a step logs (a wait for the warehouse, a retry); errors are
    left to the command's own summary of the run, without their tracebacks."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno != logging.WARNING:
            return
        meta = getattr(record, "dagster_meta", None) or {}
        text = str(meta.get("orig_message") or record.getMessage()).splitlines()[0]
        step = meta.get("step_key")
        print(f"warning: {step + ': ' if step else ''}{text}", file=sys.stderr, flush=True)


@dg.logger(
    {"log_level": dg.Field(str, is_required=False, default_value="WARNING")},
    description="Step warnings as one line each; failures are reported by the command.",
)
def warnings_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("aidnav", level=logging.WARNING)
    logger.addHandler(_WarningsOnly())
    return logger
