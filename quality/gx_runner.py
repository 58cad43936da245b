"""Run a list of great-expectations expectations over a DataFrame, plainly.

GX through SQLAlchemy on DuckDB is broken upstream, so every suite validates the
partition's rows as a pandas DataFrame, in one ephemeral context per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SAMPLE_SIZE = 5
_CONTEXT: Any = None


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    unexpected_count: int
    sample_values: tuple[Any, ...]
    rows: tuple[dict[str, Any], ...]  # the key columns of the failing rows (up to 20)

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        return (f"{self.expectation}{where}: {self.unexpected_count} row(s), "
                f"e.g. {list(self.sample_values)}")


@dataclass(frozen=True)
class SuiteResult:
    name: str
    rows: int
    evaluated: int
    failures: tuple[Failure, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.failures


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = {"globally": False}
        _CONTEXT = ctx
    return _CONTEXT


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def run_suite(name: str, df: pd.DataFrame, expectations: list[Any], key_columns: list[str]) -> SuiteResult:
    """Validate `df` against `expectations`; failures carry counts, samples and row keys."""
    import great_expectations as gx

    ctx = _context()
    suffix = f"{name}_{len(ctx.suites.all())}"
    source = ctx.data_sources.add_pandas(f"ds_{suffix}")
    batch = source.add_dataframe_asset(f"a_{suffix}").add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name=f"s_{suffix}"))
    for expectation in expectations:
        suite.add_expectation(expectation)
    validation = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=f"v_{suffix}", data=batch, suite=suite)
    )
    keys = [c for c in key_columns if c in df.columns]
    result_format: dict[str, Any] = {"result_format": "COMPLETE"}
    if keys and len(df):
        result_format["unexpected_index_column_names"] = keys
    outcome = validation.run(batch_parameters={"dataframe": df}, result_format=result_format)
    failures = []
    for r in outcome.results:
        if r.success:
            continue
        kwargs = r.expectation_config.kwargs
        res = r.result or {}
        column = kwargs.get("column") or (
            f"{kwargs.get('column_A')},{kwargs.get('column_B')}" if "column_A" in kwargs
            else ",".join(kwargs.get("column_list", [])) or None
        )
        unexpected = res.get("unexpected_list") or res.get("partial_unexpected_list") or []
        if not unexpected and "observed_value" in res:
            unexpected = [res["observed_value"]]
        index_rows = res.get("unexpected_index_list") or []
        failures.append(Failure(
            expectation=r.expectation_config.type,
            column=column,
            unexpected_count=int(res.get("unexpected_count") or (1 if not index_rows else len(index_rows))),
            sample_values=tuple(_plain(v) for v in list(unexpected)[:SAMPLE_SIZE]),
            rows=tuple(
                {k: _plain(v) for k, v in row.items()} if isinstance(row, dict) else {"index": _plain(row)}
                for row in index_rows[:20]
            ),
        ))
    return SuiteResult(name=name, rows=len(df), evaluated=len(outcome.results), failures=tuple(failures))
