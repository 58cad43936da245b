"""Replay bundles: `chain_events.jsonl`, the decoded chain events one JSON object per line
(DATA_CONTRACTS.md, "Replay bundles"), loaded into and exported from the raw tables."""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import fsspec

from ingestion.stats import IngestStats

SOURCE = "chain_events"
EVENT_ARGS: dict[str, tuple[str, ...]] = {
    "Transfer": ("from", "to", "value"),
    "Deposit": ("sender", "owner", "assets", "shares"),
    "Withdraw": ("sender", "receiver", "owner", "assets", "shares"),
}
ADDRESS_ARGS = ("from", "to", "sender", "owner", "receiver")
AMOUNT_ARGS = ("value", "assets", "shares")
_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_UINT = re.compile(r"^\d+$")
_MAX_DEC38 = 10**38 - 1

# column order of raw.chain_events
COLUMNS = ("chain_id", "block_number", "block_hash", "block_timestamp", "tx_hash", "log_index",
           "address", "event", "topics", "data", "arg_from", "arg_to", "arg_value",
           "arg_sender", "arg_owner", "arg_receiver", "arg_assets", "arg_shares")


class BundleError(ValueError):
    """A malformed line of a replay bundle; names file, line, field and the expectation."""

    def __init__(self, file: str, line: int, field: str, expected: str):
        super().__init__(f"{file}, line {line}, field '{field}': expected {expected}")
        self.file, self.line, self.field = file, line, field


def parse_timestamp(s: str) -> datetime:
    """ISO 8601 with an explicit offset ('Z' allowed) -> aware UTC datetime."""
    if not isinstance(s, str) or not re.search(r"(Z|[+-]\d{2}:?\d{2})$", s):
        raise ValueError(s)
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def event_row(ev: dict[str, Any], file: str = "<event>", line: int = 0) -> tuple:
    """Validate one decoded event (bundle shape) and return its raw.chain_events row."""
    def need(name: str, check, expected: str):
        v = ev.get(name)
        if v is None or not check(v):
            raise BundleError(file, line, name, expected)
        return v

    chain_id = need("chain_id", lambda v: isinstance(v, int) and v >= 0, "a chain id (integer)")
    block_number = need("block_number", lambda v: isinstance(v, int) and v >= 0,
                        "a block number (integer >= 0)")
    block_hash = need("block_hash", lambda v: isinstance(v, str) and _HASH.match(v),
                      "a 0x-prefixed 32-byte hex hash").lower()
    ts_raw = need("block_timestamp", lambda v: isinstance(v, str), "an ISO 8601 timestamp")
    try:
        ts = parse_timestamp(ts_raw)
    except ValueError:
        raise BundleError(file, line, "block_timestamp",
                          "an ISO 8601 timestamp with a UTC offset (e.g. 2026-01-25T00:00:12Z)") from None
    tx_hash = need("tx_hash", lambda v: isinstance(v, str) and _HASH.match(v),
                   "a 0x-prefixed 32-byte hex hash").lower()
    log_index = need("log_index", lambda v: isinstance(v, int) and v >= 0,
                     "a log index (integer >= 0)")
    address = need("address", lambda v: isinstance(v, str) and _ADDR.match(v),
                   "a 0x-prefixed 20-byte hex address").lower()
    event = need("event", lambda v: v in EVENT_ARGS, "one of " + "|".join(EVENT_ARGS))
    args = need("args", lambda v: isinstance(v, dict), "an object of decoded arguments")
    expected_keys = EVENT_ARGS[event]
    if set(args) != set(expected_keys):
        raise BundleError(file, line, "args", f"exactly the keys {','.join(expected_keys)} "
                          f"for {event}")
    dec: dict[str, Any] = {}
    for k in expected_keys:
        v = args[k]
        if k in ADDRESS_ARGS:
            if not isinstance(v, str) or not _ADDR.match(v):
                raise BundleError(file, line, f"args.{k}", "a 0x-prefixed 20-byte hex address")
            dec[k] = v.lower()
        else:
            if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and _UINT.match(v))):
                raise BundleError(file, line, f"args.{k}",
                                  "a decimal string of integer token units")
            n = int(v)
            if n > _MAX_DEC38:
                raise BundleError(file, line, f"args.{k}", "an amount below 10^38")
            dec[k] = n
    topics = ev.get("topics")
    data = ev.get("data")
    return (chain_id, block_number, block_hash, ts, tx_hash, log_index, address, event,
            json.dumps(topics) if isinstance(topics, list) else topics, data,
            dec.get("from"), dec.get("to"), dec.get("value"), dec.get("sender"), dec.get("owner"),
            dec.get("receiver"), dec.get("assets"), dec.get("shares"))


def upsert_events(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Insert or replace events on (chain_id, tx_hash, log_index) and record their blocks."""
    if not rows:
        return
    marks = ", ".join("?" * len(COLUMNS))
    con.executemany(f"insert or replace into raw.chain_events values ({marks})", rows)
    blocks = sorted({(r[0], r[1], r[2], r[3]) for r in rows})
    con.executemany("insert or replace into raw.chain_blocks values (?, ?, ?, ?)", blocks)


def load_chain_events_jsonl(con: duckdb.DuckDBPyConnection, path: str | Path) -> IngestStats:
    """Load a replay bundle's `chain_events.jsonl` (local path or fsspec URL) into
    raw.chain_events (upsert on chain_id, tx_hash, log_index) and raw.chain_blocks.
    A malformed line raises BundleError: a dropped transfer would change the supplies."""
    t0 = time.perf_counter()
    name = str(path)
    with fsspec.open(name, "rb") as fh:
        raw = fh.read()
    rows = []
    for i, line in enumerate(raw.decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            raise BundleError(name, i, "", f"one JSON object per line ({e.args[0]})") from None
        if not isinstance(ev, dict):
            raise BundleError(name, i, "", "one JSON object per line")
        rows.append(event_row(ev, name, i))
    con.execute("begin transaction")
    try:
        upsert_events(con, rows)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return IngestStats(SOURCE, 1, 0, len(rows), 0, time.perf_counter() - t0)


def _iso_z(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{ts.microsecond:06d}".rstrip("0") if ts.microsecond else "") + "Z"


def export_chain_events_jsonl(con: duckdb.DuckDBPyConnection, path: str | Path,
                              start: date | None, end: date | None) -> int:
    """Write the events whose block timestamp falls on a UTC day in [start, end] (either
    bound open when None) as a replay bundle; returns the number of events written.
    The file is written to a temporary name and renamed."""
    where, params = [], []
    if start is not None:
        where.append("block_timestamp >= ?")
        params.append(datetime(start.year, start.month, start.day, tzinfo=timezone.utc))
    if end is not None:
        nxt = end + timedelta(days=1)
        where.append("block_timestamp < ?")
        params.append(datetime(nxt.year, nxt.month, nxt.day, tzinfo=timezone.utc))
    sql = ("select chain_id, block_number, block_hash, block_timestamp, tx_hash, log_index, "
           "address, event, arg_from, arg_to, arg_value, arg_sender, arg_owner, arg_receiver, "
           "arg_assets, arg_shares from raw.chain_events"
           + (" where " + " and ".join(where) if where else "")
           + " order by chain_id, block_number, log_index, tx_hash")
    rows = con.execute(sql, params).fetchall()
    out = []
    for (chain_id, bn, bh, ts, tx, li, addr, event, a_from, a_to, a_value, a_sender, a_owner,
         a_receiver, a_assets, a_shares) in rows:
        values = {"from": a_from, "to": a_to, "value": a_value, "sender": a_sender,
                  "owner": a_owner, "receiver": a_receiver, "assets": a_assets,
                  "shares": a_shares}
        args = {k: (str(int(values[k])) if k in AMOUNT_ARGS else values[k])
                for k in EVENT_ARGS[event]}
        out.append(json.dumps({"chain_id": chain_id, "block_number": bn, "block_hash": bh,
                               "block_timestamp": _iso_z(ts), "tx_hash": tx, "log_index": li,
                               "address": addr, "event": event, "args": args},
                              separators=(",", ":")))
    fs, p = fsspec.core.url_to_fs(str(path))
    parent = p.rsplit("/", 1)[0] if "/" in p else ""
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = p + ".tmp"
    with fs.open(tmp, "w") as fh:
        fh.write("".join(line + "\n" for line in out))
    fs.mv(tmp, p)
    return len(out)
