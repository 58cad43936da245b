"""Bridges between warehouse relations and the ledger's dataclasses.

Duck-typed on purpose (no warehouse import): `records` accepts anything with `.columns`
and `.fetchall()` (a DuckDB relation); `text_frame` turns ledger rows into a table of
exact text values that the SQL marts cast to their contract types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from ledger.exact import decimal_text, to_text


def records(relation: Any) -> list[dict[str, Any]]:
    columns = list(relation.columns)
    return [dict(zip(columns, row)) for row in relation.fetchall()]


def text_cell(v: Any) -> str | None:
    """Exact text of one value: ISO dates, 18-dp decimals (`to_text`), strings as is."""
    t = type(v)
    if t is str or v is None:
        return v
    if t is Decimal:
        return decimal_text(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return to_text(v)


def text_frame(rows: Iterable[Any], columns: Sequence[str]):
    """A pandas DataFrame with one string column per name (exact decimals, 'true'/'false',
    ISO dates, None for null), so no figure passes through a binary float."""
    import pandas as pd

    rows = list(rows)
    if rows and isinstance(rows[0], dict):
        values = [[row[c] for row in rows] for c in columns]
    else:
        values = [[getattr(row, c) for row in rows] for c in columns]
    return pd.DataFrame({c: pd.Series([text_cell(v) for v in col], dtype="object")
                         for c, col in zip(columns, values)})
