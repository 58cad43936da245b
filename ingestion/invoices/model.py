"""The invoice record: one invoice version, validated from a CSV row or a JSON object
(DATA_CONTRACTS.md, "Provider invoices")."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ingestion.bounds import (DECIMAL_PLACES_MAX, INVOICE_AMOUNT_USD_MAX,
                              INVOICE_PERIOD_DAYS_MAX, INVOICE_USAGE_HOURS_MAX, bound_text)
from ingestion.registry import Registry

COLUMNS = ("invoice_id", "version", "provider_id", "deal_id", "customer_id", "issue_date",
           "due_date", "period_start", "period_end", "usage_hours", "amount_usd", "status",
           "paid_date")
REQUIRED = ("invoice_id", "version", "provider_id", "deal_id", "customer_id", "issue_date",
            "period_start", "period_end", "usage_hours", "amount_usd", "status")
STATUSES = ("issued", "paid", "void")


class InvoiceRejected(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    version: int
    provider_id: str
    deal_id: str
    customer_id: str
    issue_date: date
    due_date: date | None
    period_start: date
    period_end: date
    usage_hours: Decimal
    amount_usd: Decimal
    status: str
    paid_date: date | None

    def payload_sha256(self) -> str:
        """Hash of the invoice's content (not of where it was delivered): two deliveries
        of the same version with the same payload hash alike. Numbers are normalised, so
        `8400.00` and `8400` are the same amount."""
        d = {k: (_norm(v) if isinstance(v, Decimal) else
                 v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _norm(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return "0" if s in ("-0", "0") else s


def _text(values: dict[str, Any], name: str) -> str | None:
    v = values.get(name)
    if v is None:
        return None
    if isinstance(v, (dict, list, bool)):
        raise InvoiceRejected(name, f"{name} {json.dumps(v)}: expected a scalar value")
    s = str(v).strip()
    return s or None


def _date(values: dict[str, Any], name: str) -> date | None:
    s = _text(values, name)
    if s is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            raise ValueError
        return date.fromisoformat(s)
    except ValueError:
        raise InvoiceRejected(name, f"{name} {s!r}: expected a real date YYYY-MM-DD") from None


def _decimal(values: dict[str, Any], name: str, bound: Decimal) -> Decimal:
    v = values.get(name)
    if isinstance(v, bool):
        raise InvoiceRejected(name, f"{name} {v!r}: expected a decimal number")
    s = _text(values, name)
    try:
        d = Decimal(s)  # type: ignore[arg-type]
        if not d.is_finite():
            raise InvalidOperation
    except (InvalidOperation, TypeError):
        raise InvoiceRejected(name, f"{name} {s!r}: expected a decimal number") from None
    if abs(d) > bound:
        raise InvoiceRejected(name, f"{name} {s} out of range: expected a decimal number "
                              f"{bound_text(-bound, bound)}")
    exponent = d.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > DECIMAL_PLACES_MAX:
        raise InvoiceRejected(name, f"{name} {s} has {-exponent} decimal places: expected at "
                              f"most {DECIMAL_PLACES_MAX}")
    return d


def parse_invoice(values: dict[str, Any], registry: Registry, folder_provider: str) -> Invoice:
    """Validate one row (column -> value; JSON values may be numbers). Raises
    InvoiceRejected naming the field and what was expected."""
    missing = [c for c in COLUMNS if c not in values]
    if missing:
        raise InvoiceRejected(missing[0], "missing column(s) " + ", ".join(missing)
                              + ": expected the columns " + ",".join(COLUMNS))
    extra = [c for c in values if c not in COLUMNS]
    if extra:
        raise InvoiceRejected(extra[0], "unexpected column(s) " + ", ".join(extra)
                              + ": expected only the columns " + ",".join(COLUMNS))
    for name in REQUIRED:
        if _text(values, name) is None:
            raise InvoiceRejected(name, f"{name} is empty: expected a value")
    version_s = _text(values, "version")
    if isinstance(values["version"], float) or not re.fullmatch(r"\d+", version_s or ""):
        raise InvoiceRejected("version", f"version {version_s!r}: expected an integer >= 1")
    version = int(version_s)  # type: ignore[arg-type]
    if version < 1:
        raise InvoiceRejected("version", f"version {version}: expected an integer >= 1")
    usage = _decimal(values, "usage_hours", INVOICE_USAGE_HOURS_MAX)
    amount = _decimal(values, "amount_usd", INVOICE_AMOUNT_USD_MAX)
    issue, due = _date(values, "issue_date"), _date(values, "due_date")
    start, end = _date(values, "period_start"), _date(values, "period_end")
    paid = _date(values, "paid_date")
    assert issue is not None and start is not None and end is not None
    if end < start:
        raise InvoiceRejected("period_end", f"period_end {end} is before period_start {start}: "
                              "expected period_end >= period_start")
    if (end - start).days + 1 > INVOICE_PERIOD_DAYS_MAX:
        raise InvoiceRejected("period_end", f"period {start}..{end} covers "
                              f"{(end - start).days + 1} days: expected at most "
                              f"{INVOICE_PERIOD_DAYS_MAX}")
    status = _text(values, "status")
    if status not in STATUSES:
        raise InvoiceRejected("status", f"status {status!r}: expected one of issued|paid|void")
    if usage < 0 and amount >= 0:
        raise InvoiceRejected("usage_hours", f"usage_hours {usage} is negative on an invoice "
                              f"that is not a credit note (amount_usd {amount}): expected >= 0")
    provider_id = _text(values, "provider_id")
    deal_id = _text(values, "deal_id")
    assert provider_id is not None and deal_id is not None
    if provider_id not in registry.providers_by_id:
        raise InvoiceRejected("provider_id", f"unknown provider_id {provider_id!r}: expected a "
                              "provider of providers.csv")
    if provider_id != folder_provider:
        raise InvoiceRejected("provider_id", f"provider_id {provider_id!r} does not match the "
                              f"delivery folder's provider: expected {folder_provider!r}")
    deal = registry.deals_by_id.get(deal_id)
    if deal is None:
        raise InvoiceRejected("deal_id", f"unknown deal_id {deal_id!r}: expected a deal of "
                              "deals.csv")
    if deal.provider_id != provider_id:
        raise InvoiceRejected("deal_id", f"deal {deal_id} belongs to provider "
                              f"{deal.provider_id}: expected a deal of {provider_id}")
    if start < deal.funded_date:
        raise InvoiceRejected("period_start", f"period_start {start} is before deal {deal_id}'s "
                              f"funded_date {deal.funded_date}: expected a period from the "
                              "funding on")
    return Invoice(_text(values, "invoice_id"), version, provider_id, deal_id,  # type: ignore[arg-type]
                   _text(values, "customer_id"), issue, due, start, end, usage, amount,  # type: ignore[arg-type]
                   status, paid)
