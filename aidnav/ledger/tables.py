"""Bridges between warehouse relations and the ledger's dataclasses.

Duck-typed on purpose (no warehouse import): `records` accepts anything with `.columns`
and `.fetchall()` (a DuckDB relation); `text_frame` turns ledger rows into a table of
exact text values that the SQL marts cast to their contract types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aidnav.ledger.exact import to_text


def records(relation: Any) -> list[dict[str, Any]]:
    columns = list(relation.columns)
    return [dict(zip(columns, row)) for row in relation.fetchall()]


def text_frame(rows: Iterable[Any], columns: Sequence[str]):
    """A pandas DataFrame with one string column per name (exact decimals, 'true'/'false',
    ISO dates, None for null), so no figure passes through a binary float."""
    import pandas as pd

    data: dict[str, list[str | None]] = {c: [] for c in columns}
    for row in rows:
        for c in columns:
            v = getattr(row, c) if not isinstance(row, dict) else row[c]
            if v is None:
                data[c].append(None)
            elif hasattr(v, "isoformat"):
                data[c].append(v.isoformat())
            elif isinstance(v, str):
                data[c].append(v)
            else:
                data[c].append(to_text(v))
    return pd.DataFrame({c: pd.Series(data[c], dtype="object") for c in columns})
