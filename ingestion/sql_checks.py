"""Row validation in SQL: an ordered list of checks, each a condition that marks a row
invalid, the offending field and a reason (SQL expressions). The first failing check
wins. Rows are tagged with the check's number in one pass (cheap: a CASE of
conditions); the field and the reason text are only built for the rare failing rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    condition: str  # SQL, true when the row is invalid
    field: str      # SQL expression of the field name ('' for the whole record)
    reason: str     # SQL expression of the reason, naming what was expected


def code_sql(checks: list[Check]) -> str:
    """The number (1-based) of the first failing check, NULL for a valid row."""
    return "case " + " ".join(f"when {c.condition} then {i}"
                              for i, c in enumerate(checks, start=1)) + " end"


def field_sql(checks: list[Check], code: str) -> str:
    return f"case {code} " + " ".join(f"when {i} then {c.field}"
                                      for i, c in enumerate(checks, start=1)) + " end"


def reason_sql(checks: list[Check], code: str) -> str:
    return f"case {code} " + " ".join(f"when {i} then {c.reason}"
                                      for i, c in enumerate(checks, start=1)) + " end"


RECORD_SQL = "rtrim(raw, chr(10) || chr(13) || chr(9) || ' ')"
