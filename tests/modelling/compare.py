"""Cell-by-cell comparison of replay output with the worked example's expected files."""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

USD_TOLERANCE = Decimal("1e-9")
# integer-valued columns compared exactly (wei, counts, days)
EXACT_COLUMNS = {"reward_wei", "cumulative_wei", "total_cumulative_wei", "budget_wei",
                 "dust_wei", "accounts", "valid_samples", "records", "dpd",
                 "offline_streak_days", "health_factor"}


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def cell_mismatch(column: str, expected: str, actual: str) -> bool:
    if expected == actual:
        return False
    if expected == "" or actual == "":
        return True
    e, a = _number(expected), _number(actual)
    if e is None or a is None or expected.startswith("0x"):
        return True
    if column in EXACT_COLUMNS:
        return e != a
    return abs(e - a) > USD_TOLERANCE


def compare_file(expected: Path, actual: Path, limit: int = 15,
                 expected_rows: list[dict[str, str]] | None = None) -> list[str]:
    """Human-readable differences (empty when equal): header, row count, then cells."""
    e_cols, e_rows = read_rows(expected)
    if expected_rows is not None:
        e_rows = expected_rows
    if not actual.exists():
        return [f"{actual.name}: missing"]
    a_cols, a_rows = read_rows(actual)
    problems: list[str] = []
    if e_cols != a_cols:
        problems.append(f"{actual.name}: header {a_cols} != expected {e_cols}")
        return problems
    if len(e_rows) != len(a_rows):
        problems.append(f"{actual.name}: {len(a_rows)} rows, expected {len(e_rows)}")
    for i, (e, a) in enumerate(zip(e_rows, a_rows), start=2):
        for c in e_cols:
            if cell_mismatch(c, e[c], a[c]):
                key = " ".join(e[k] for k in e_cols[:2])
                problems.append(f"{actual.name} line {i} ({key}) {c}: got {a[c]!r}, expected {e[c]!r}")
                if len(problems) >= limit:
                    return problems
    return problems
