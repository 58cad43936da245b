"""Provider invoice ingestion: `landing/invoices/<provider_id>/<delivery_date>/<file>`,
CSV or JSON Lines, one invoice version per row (DATA_CONTRACTS.md, "Provider invoices").

Valid rows go to `raw.invoices`, keyed (invoice_id, version). The same payload delivered
again is ignored; a different payload under an existing key is quarantined and the first
delivery kept: first by delivery date, then file path, then line, whatever order the
files were ingested in. Volumes are small (a few rows a day per provider), so rows are
validated in Python with exact Decimals.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from ingestion.bounds import FILE_MAX_BYTES, LINE_MAX_BYTES
from ingestion.invoices.model import COLUMNS, Invoice, InvoiceRejected, parse_invoice
from ingestion.landing import (Landing, LandingFile, Rejection, drop_long_lines,
                               json_dumps, ledger, quarantine, record_files, refuse_files,
                               sha256_hex)
from ingestion.registry import Registry
from ingestion.stats import IngestStats

SOURCE = "invoices"


def _rows_csv(text: str, rel: str) -> tuple[list[tuple[int, str, dict[str, Any]]], list[Rejection]]:
    lines = text.split("\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, str, dict[str, Any]]] = []
    bad: list[Rejection] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return rows, bad
    except csv.Error as e:
        return rows, [Rejection(rel, 1, "", f"unreadable CSV header ({e}): expected "
                                + ",".join(COLUMNS), lines[0])]
    start = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            bad.append(Rejection(rel, reader.line_num, "", f"unreadable CSV row ({e})",
                                 lines[min(reader.line_num, len(lines)) - 1]))
            start = reader.line_num + 1
            continue
        line = reader.line_num
        record = "\n".join(lines[start:line]).rstrip("\r")
        first = start + 1
        start = line
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            bad.append(Rejection(rel, first, "", f"{len(values)} fields: expected "
                                 f"{len(header)} as in the header", record))
            continue
        rows.append((first, record, dict(zip(header, values))))
    return rows, bad


def _rows_jsonl(text: str, rel: str) -> tuple[list[tuple[int, str, dict[str, Any]]], list[Rejection]]:
    rows, bad = [], []
    for i, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line, parse_float=Decimal)
        except ValueError as e:
            bad.append(Rejection(rel, i, "", f"invalid JSON ({e.args[0]}): expected one JSON "
                                 "object per line", raw))
            continue
        if not isinstance(obj, dict):
            bad.append(Rejection(rel, i, "", "not a JSON object: expected one JSON object "
                                 "per line", raw))
            continue
        rows.append((i, raw, obj))
    return rows, bad


def _decode(data: bytes, rel: str) -> tuple[str, list[Rejection]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    out, bad = [], []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        try:
            out.append(raw.decode("utf-8-sig" if i == 1 else "utf-8"))
        except UnicodeDecodeError as e:
            bad.append(Rejection(rel, i, "", f"invalid UTF-8 at byte {e.start} of the line: "
                                 "expected UTF-8 text", raw.decode("utf-8", errors="replace")))
            out.append("")
    if bad and bad[0].line == 1 and rel.endswith(".csv"):
        # without its header a CSV file cannot be read at all
        n = sum(1 for x in out[1:] if x.strip())
        bad = [Rejection(rel, 1, "", "invalid UTF-8 in the header: expected UTF-8 text; "
                         f"the file's {n} rows cannot be read", bad[0].record)] + [
            Rejection(rel, i, "", "invalid UTF-8 in the file's header: row unreadable", x)
            for i, x in enumerate(out, start=1) if i > 1 and x.strip()] + bad[1:]
        return "", bad
    return "\n".join(out), bad


def _order(f: LandingFile) -> tuple[str, str]:
    return (f.parts[2], f.rel)


def ingest_invoices(con: duckdb.DuckDBPyConnection, landing_dir: str | Path, registry: Registry,
                    delivery_dates: Iterable[date] | None = None,
                    max_file_bytes: int | None = None) -> IngestStats:
    """Ingest invoice deliveries under `landing_dir` (all delivery dates or only
    `delivery_dates`). Files already in the ledger with the same sha256 are skipped. A file
    that is not a regular file inside the landing zone or is over its size limit
    (`max_file_bytes` replaces the one of ingestion.bounds) is refused unread."""
    t0 = time.perf_counter()
    max_bytes = FILE_MAX_BYTES[SOURCE] if max_file_bytes is None else max_file_bytes
    landing = Landing(landing_dir)
    files = sorted((f for f in landing.list(SOURCE, folder_depth=2, dates=delivery_dates,
                                            date_index=1)
                    if f.rel.endswith((".csv", ".jsonl"))), key=_order)
    seen = ledger(con, SOURCE)
    read = skipped = loaded_total = quarantined_total = 0
    con.execute("begin transaction")
    try:
        for f in files:
            data, refusal = landing.read_or_refuse(f, max_bytes)
            if refusal is not None:
                if seen.get(f.rel) == refusal.marker:
                    skipped += 1
                else:
                    read, quarantined_total = read + 1, quarantined_total + 1
                    refuse_files(con, SOURCE, [(f.rel, refusal)])
                continue
            sha = sha256_hex(data)
            if seen.get(f.rel) == sha:
                skipped += 1
                continue
            read += 1
            loaded, rejected = _ingest_file(con, f, data, registry, changed=f.rel in seen)
            quarantine(con, SOURCE, rejected)
            record_files(con, SOURCE, [(f.rel, sha, loaded, len(rejected))])
            loaded_total += loaded
            quarantined_total += len(rejected)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return IngestStats(SOURCE, read, skipped, loaded_total, quarantined_total,
                       time.perf_counter() - t0)


def _ingest_file(con: duckdb.DuckDBPyConnection, f: LandingFile, data: bytes,
                 registry: Registry, changed: bool) -> tuple[int, list[Rejection]]:
    provider, folder_date = f.parts[1], f.parts[2]
    data, too_long = drop_long_lines(data, f.rel, LINE_MAX_BYTES[SOURCE])
    text, rejected = _decode(data, f.rel)
    rejected += too_long
    rows, bad = (_rows_csv if f.rel.endswith(".csv") else _rows_jsonl)(text, f.rel)
    rejected += bad
    try:
        delivery = date.fromisoformat(folder_date)
    except ValueError:
        rejected += [Rejection(f.rel, line, "", f"delivery folder {folder_date!r}: expected "
                               "invoices/<provider_id>/<YYYY-MM-DD>/", record)
                     for line, record, _ in rows]
        return 0, sorted(rejected, key=lambda r: r.line)
    if changed:
        rejected += [Rejection(f.rel, line, "", "file changed after it was ingested: expected "
                               "immutable landing files", record) for line, record, _ in rows]
        return 0, sorted(rejected, key=lambda r: r.line)
    loaded = 0
    for line, record, values in rows:
        try:
            inv = parse_invoice(values, registry, provider)
        except InvoiceRejected as e:
            rejected.append(Rejection(f.rel, line, e.field, e.reason, record))
            continue
        outcome = _upsert(con, inv, f.rel, line, provider, delivery)
        if outcome is None:
            continue
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
        else:
            loaded += 1
            if outcome is not True:
                quarantine(con, SOURCE, [outcome[0]])
    return loaded, sorted(rejected, key=lambda r: r.line)


def _upsert(con: duckdb.DuckDBPyConnection, inv: Invoice, rel: str, line: int, provider: str,
            delivery: date):
    """Insert `inv` unless its (invoice_id, version) is there. Returns True when inserted,
    None when the same payload was already there (from an earlier delivery), a Rejection
    when a different payload is already there from an earlier delivery, and a 1-tuple
    (Rejection of the replaced row,) when this delivery is earlier and replaces it."""
    sha = inv.payload_sha256()
    prev = con.execute(
        "select delivery_date, source_file, line, payload_sha256 from raw.invoices "
        "where invoice_id = ? and version = ?", [inv.invoice_id, inv.version]).fetchall()
    prev = prev[0] if prev else None
    replaced = None
    if prev is not None:
        p_date, p_file, p_line, p_sha = prev
        earlier = (p_date, p_file, p_line) <= (delivery, rel, line)
        if earlier and p_sha == sha:
            return None
        if earlier:
            return Rejection(rel, line, "", f"{inv.invoice_id} version {inv.version} was first "
                             f"delivered with a different payload in {p_file} line {p_line}: "
                             "expected the same payload, or a new version",
                             json_dumps(_payload(inv)))
        old = con.execute(
            "select * exclude (source_file, line, delivery_provider_id, delivery_date, "
            "payload_sha256, loaded_at) from raw.invoices where invoice_id = ? and version = ?",
            [inv.invoice_id, inv.version]).fetchall()[0]
        con.execute("delete from raw.invoices where invoice_id = ? and version = ?",
                    [inv.invoice_id, inv.version]).fetchall()
        if p_sha != sha:
            con.execute("delete from raw.quarantine where source = ? and file = ? and line = ?",
                        [SOURCE, p_file, p_line]).fetchall()
            replaced = (Rejection(p_file, p_line, "", f"{inv.invoice_id} version {inv.version} "
                                  f"was first delivered with a different payload in {rel} line "
                                  f"{line}: expected the same payload, or a new version",
                                  json_dumps(dict(zip(COLUMNS, old)))),)
    con.execute(
        "insert into raw.invoices values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [rel, line, provider, delivery, inv.invoice_id, inv.version, inv.provider_id, inv.deal_id,
         inv.customer_id, inv.issue_date, inv.due_date, inv.period_start, inv.period_end,
         inv.usage_hours, inv.amount_usd, inv.status, inv.paid_date, sha]).fetchall()
    return replaced if replaced is not None else True


def _payload(inv: Invoice) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, (Decimal, date)) else v) for k, v in asdict(inv).items()}
