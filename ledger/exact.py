"""Decimal arithmetic settings shared by the ledger: enough precision that only the
final quantisation to 18 decimal places (half-even) rounds anything."""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Callable, TypeVar

LEDGER_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
SCALE_18 = Decimal("1e-18")
ZERO = Decimal(0)
ONE = Decimal(1)
WEI = 10**18

F = TypeVar("F", bound=Callable)


def exact(func: F) -> F:
    """Run `func` in the ledger's decimal context (60 significant digits)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with localcontext(LEDGER_CONTEXT):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def q18(value: Decimal | None) -> Decimal | None:
    """Round half-even to 18 decimal places (the warehouse's DECIMAL(38,18))."""
    if value is None:
        return None
    return value.quantize(SCALE_18, rounding=ROUND_HALF_EVEN, context=LEDGER_CONTEXT)


def to_text(value: Decimal | int | bool | None) -> str | None:
    """Exact text of a figure: 18 dp half-even, trailing zeros removed; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return decimal_text(value)


def decimal_text(value: Decimal) -> str:
    """`to_text` of a Decimal (the hot path of the ledger's output tables)."""
    return plain_text(value.quantize(SCALE_18, rounding=ROUND_HALF_EVEN, context=LEDGER_CONTEXT))


def plain_text(value: Decimal) -> str:
    """The one decimal-to-text rule: every digit the value has, no exponent, no trailing
    zeros, zero as `0` (`20`, `1.004447`, `-0.11234921622340982`). No rounding: the
    ledger's tables round to 18 places first (`decimal_text`), reports and replay CSVs
    write what the warehouse holds."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
