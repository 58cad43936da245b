"""Robot telemetry ingestion: `landing/robot_telemetry/<date>/<fleet_id>/<file>.jsonl`,
one state record per line (DATA_CONTRACTS.md; METHODOLOGY.md section 1, Robots).

A record is valid when its robot_id is a registered robot, its ts carries a UTC offset and
is before the limit of its delivery day (`ingestion.nvml.ingest.ts_limit`), and the three
lifetime counters are numbers within their bounds (`ingestion.bounds`; `mode` does not
matter). Parsing and validation run as one DuckDB pass over all new files; `errors` is
kept as JSON text. A file that is not a regular file inside the landing zone, or is over
its size limit, is refused unread: one quarantine row and a ledger entry.

Signed fleets: a fleet whose robots have a registered node_address must sign each file,
`<file>.jsonl.sig` beside it, in the scheme of GPU batches (`ingestion.nvml.signature`). A
file whose signature fails is quarantined whole, one row per line (line 0 when it has
none); a file without its `.sig` likewise, but it stays out of the ledger and is read
again when the `.sig` arrives. A robot of a signed fleet is accepted only in a file signed
by its fleet's key. A fleet without a registered node_address delivers unsigned files,
accepted and flagged (`quality.flags.unsigned_robot_deliveries`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.bounds import (FILE_MAX_BYTES, LINE_MAX_BYTES, ROBOT_COUNTERS, SIG_MAX_BYTES,
                              bound_text, sql_number)
from ingestion.jsonl_lines import TS_WITH_OFFSET, register_lines, unregister
from ingestion.landing import (FileRefused, Landing, LandingFile, Refusal, Rejection,
                               content_refusal_marker, delivery_content, drop_long_lines, is_telemetry_delivery, ledger,
                               quarantine, record_files, refuse_files, sha256_hex)
from ingestion.nvml.ingest import ts_limit
from ingestion.nvml.signature import verify_batch
from ingestion.registry import Registry
from ingestion.sql_checks import RECORD_SQL, Check, code_sql, field_sql, reason_sql
from ingestion.stats import IngestStats

SOURCE = "robot_telemetry"
COUNTERS = ("operating_s", "cleaning_s", "area_cleaned_m2")

_STRUCT = json.dumps({"robot_id": "JSON", "ts": "JSON", "seq": "JSON", "mode": "JSON",
                      "counters": "JSON", "errors": "JSON"})


def _counter(name: str) -> str:
    return f"try_cast(json_extract(j.counters, '$.{name}')::varchar as decimal(38,6))"


def _checks() -> list[Check]:
    """The validity rules of a record (METHODOLOGY.md section 1, Robots), in order."""
    checks = [
        Check("not json_valid(raw) or not regexp_matches(raw, '^[ \t]*\\{')", "''",
              "'not a JSON object: expected one JSON object per line'"),
        Check("f.changed", "''",
              "'file changed after it was ingested: expected immutable landing files'"),
        Check("f.folder_reason is not null", "''", "f.folder_reason"),
        Check("f.sig_reason is not null", "''", "f.sig_reason"),
        Check("j.robot_id is null or json_type(j.robot_id) <> 'VARCHAR'", "'robot_id'",
              "'robot_id ' || coalesce(j.robot_id::varchar, 'missing') || ': expected a string'"),
        Check("a.asset_id is null", "'robot_id'",
              "'unknown asset ' || (j.robot_id->>'$') || ': expected a robot registered in "
              "assets.csv'"),
        Check("a.node_address is not null and a.node_address <> coalesce(f.signer, '')",
              "'robot_id'",
              "'robot ' || a.asset_id || ' is registered to fleet ' || a.node_id || "
              "' (node_address ' || a.node_address || '): expected it in a file signed by that "
              "key, not ' || coalesce('by ' || f.signer, 'unsigned')"),
        Check(f"j.ts is null or json_type(j.ts) <> 'VARCHAR' or not regexp_full_match("
              f"j.ts->>'$', '{TS_WITH_OFFSET}') or try_cast(j.ts->>'$' as timestamptz) is null",
              "'ts'", "'ts ' || coalesce(j.ts::varchar, 'missing') || "
              "': expected an ISO 8601 timestamp with an explicit UTC offset'"),
        Check("try_cast(j.ts->>'$' as timestamptz) >= f.ts_limit", "'ts'",
              "'ts ' || (j.ts->>'$') || ' is not before ' || f.ts_rule"),
        Check("j.seq is not null and try_cast(j.seq::varchar as bigint) is null", "'seq'",
              "'seq ' || j.seq::varchar || ': expected an integer'"),
        Check("j.counters is null or json_type(j.counters) <> 'OBJECT'", "'counters'",
              "'counters ' || coalesce(j.counters::varchar, 'missing') || ': expected an object'"),
    ]
    for c in COUNTERS:
        raw = f"json_extract(j.counters, '$.{c}')"
        lo, hi = ROBOT_COUNTERS[c]
        rng = bound_text(lo, hi)
        checks.append(Check(f"{raw} is null or json_type({raw}) = 'NULL'", f"'counters.{c}'",
                            f"'missing counters.{c}: expected a number {rng}'"))
        checks.append(Check(f"{_counter(c)} is null", f"'counters.{c}'",
                            f"'counters.{c} ' || {raw}::varchar || ': expected a number {rng}'"))
        cond = f"{_counter(c)} < {sql_number(lo)} or {_counter(c)} > {sql_number(hi)}"
        checks.append(Check(cond, f"'counters.{c}'",
                            f"'counters.{c} ' || {raw}::varchar || ' out of range: expected "
                            f"{rng}'"))
    checks.append(Check("j.errors is not null and json_type(j.errors) not in ('ARRAY', 'NULL')",
                        "'errors'", "'errors ' || j.errors::varchar || ': expected an array'"))
    return checks


_CHECKS = _checks()


def ingest_robot_telemetry(con: duckdb.DuckDBPyConnection, landing_dir: str | Path,
                           registry: Registry, dates: Iterable[date] | None = None,
                           now: datetime | None = None,
                           max_file_bytes: int | None = None) -> IngestStats:
    """Ingest robot state records under `landing_dir` (all delivery dates, or only `dates`).
    `now` is the run's clock; `max_file_bytes` replaces the size limit (tests)."""
    t0 = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    max_bytes = FILE_MAX_BYTES[SOURCE] if max_file_bytes is None else max_file_bytes
    landing = Landing(landing_dir)
    listed = landing.list(SOURCE, folder_depth=2, dates=dates, date_index=0)
    files = [f for f in listed if is_telemetry_delivery(f)]
    all_paths = {f.path for f in listed}
    fleet_keys = {a.node_id: a.node_address for a in registry.assets
                  if a.asset_type == "robot" and a.node_id and a.node_address}
    seen = ledger(con, SOURCE)
    rels, contents, shas, fleets, signers, sig_reasons = [], [], [], [], [], []
    unsigned: set[str] = set()  # files of a signed fleet waiting for their .sig
    skipped = 0
    changed = []
    refused: list[tuple[str, Refusal]] = []
    for f in files:
        data, refusal = landing.read_or_refuse(f, max_bytes)  # as delivered: sha, signature
        sha = sha256_hex(data) if refusal is None else ""
        if refusal is None and seen.get(f.rel) in (sha, content_refusal_marker(sha)):
            skipped += 1  # loaded, or refused for its content: never decompressed again
            continue
        if refusal is None:
            try:
                content = delivery_content(f.rel, data, max_bytes)  # decompressed lines
            except FileRefused as e:
                refusal = e.refusal
        if refusal is not None:
            if seen.get(f.rel) == refusal.marker:
                skipped += 1
            else:
                refused.append((f.rel, refusal))
            continue
        if f.rel in seen:
            changed.append(f.rel)
        fleet = f.parts[2]
        signer, sig_reason = None, None
        if fleet in fleet_keys:
            signer, sig_reason = _verify(landing, f, all_paths, data, fleet_keys[fleet], fleet)
            if sig_reason == MISSING_SIGNATURE:
                unsigned.add(f.rel)
        rels.append(f.rel)
        contents.append(content)
        shas.append(sha)
        fleets.append(fleet)
        signers.append(signer)
        sig_reasons.append(sig_reason)
    if refused:
        con.execute("begin transaction")
        try:
            refuse_files(con, SOURCE, refused)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    if not rels:
        return IngestStats(SOURCE, len(refused), skipped, 0, len(refused),
                           time.perf_counter() - t0)

    too_long = []
    for i, rel in enumerate(rels):
        contents[i], bad = drop_long_lines(contents[i], rel, LINE_MAX_BYTES[SOURCE])
        too_long += bad
    # a file rejected whole that has no line to quarantine still leaves one row
    too_long += [Rejection(rel, 0, "", reason, "") for rel, reason, data
                 in zip(rels, sig_reasons, contents) if reason is not None and not data.strip()]
    limits = [ts_limit(rel.split("/")[1], now) for rel in rels]
    meta = pa.table({"file_idx": pa.array(range(len(rels)), type=pa.int32()),
                     "rel": pa.array(rels, type=pa.string()),
                     "fleet_id": pa.array(fleets, type=pa.string()),
                     "changed": pa.array([r in changed for r in rels], type=pa.bool_()),
                     "signer": pa.array(signers, type=pa.string()),
                     "sig_reason": pa.array(sig_reasons, type=pa.string()),
                     "folder_reason": pa.array(
                         [None if lim else f"delivery folder {rel.split('/')[1]!r}: expected "
                          f"{SOURCE}/<YYYY-MM-DD>/<fleet_id>/" for rel, lim in zip(rels, limits)],
                         type=pa.string()),
                     "ts_limit": pa.array([lim[0] if lim else now for lim in limits],
                                          type=pa.timestamp("us", tz="UTC")),
                     "ts_rule": pa.array([lim[1] if lim else "" for lim in limits],
                                         type=pa.string())})
    robot_assets = [a for a in registry.assets if a.asset_type == "robot"]
    robots = pa.table({"asset_id": pa.array([a.asset_id for a in robot_assets], type=pa.string()),
                       "node_id": pa.array([a.node_id for a in robot_assets], type=pa.string()),
                       "node_address": pa.array([a.node_address for a in robot_assets],
                                                type=pa.string())})
    con.register("_rob_files", meta)
    con.register("_rob_assets", robots)
    bad_utf8 = register_lines(con, "_rob_lines", contents, rels) + too_long
    try:
        con.execute("begin transaction")
        # a file read again (it waited for its .sig) replaces what it left in the quarantine
        fresh = [r for r in rels if r not in seen]
        if fresh:
            con.execute("delete from raw.quarantine where source = ? and file in "
                        "(select unnest(?))", [SOURCE, fresh]).fetchall()
        con.execute(f"""
            create or replace temp table _rob_checked as
            select p.file_idx, p.line, j, {code_sql(_CHECKS)} as q,
                   case when q is not null then p.raw end as raw
            from (select file_idx, line, raw,
                         case when json_valid(raw) then json_transform(raw, '{_STRUCT}') end as j
                  from _rob_lines) p
            join _rob_files f using (file_idx)
            left join _rob_assets a on a.asset_id = (j.robot_id->>'$')""")
        loaded = con.execute(f"""
            insert into raw.robot_records
            select f.rel, c.line, f.fleet_id, j.robot_id->>'$', (j.ts->>'$')::timestamptz,
                   try_cast(j.seq::varchar as bigint), j.mode->>'$',
                   {_counter('operating_s')}, {_counter('cleaning_s')},
                   {_counter('area_cleaned_m2')}, coalesce(j.errors::varchar, '[]')
            from _rob_checked c join _rob_files f using (file_idx)
            where q is null""").fetchall()[0][0]
        quarantined = con.execute(f"""
            insert into raw.quarantine
            select 'robot_telemetry', f.rel, c.line, {field_sql(_CHECKS, 'q')},
                   {reason_sql(_CHECKS, 'q')}, {RECORD_SQL}, now()
            from _rob_checked c join _rob_files f using (file_idx)
            left join _rob_assets a on a.asset_id = (j.robot_id->>'$')
            where q is not null order by f.rel, c.line""").fetchall()[0][0]
        quarantine(con, SOURCE, bad_utf8)
        quarantined += len(bad_utf8)
        counts = {rel: (ok, bad) for rel, ok, bad in con.execute("""
            select f.rel, count(*) filter (where q is null), count(*) filter (where q is not null)
            from _rob_checked join _rob_files f using (file_idx) group by f.rel""").fetchall()}
        record_files(con, SOURCE, [
            (rel, sha, counts.get(rel, (0, 0))[0],
             counts.get(rel, (0, 0))[1] + sum(1 for r in bad_utf8 if r.file == rel))
            for rel, sha in zip(rels, shas) if rel not in unsigned])
        con.execute("drop table _rob_checked")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        unregister(con, "_rob_lines")
        con.unregister("_rob_files")
        con.unregister("_rob_assets")
    return IngestStats(SOURCE, len(rels) + len(refused), skipped, int(loaded),
                       int(quarantined) + len(refused), time.perf_counter() - t0)


MISSING_SIGNATURE = ("file has no .sig file: expected <file>.jsonl.sig, its fleet has a "
                     "registered node_address")


def _verify(landing: Landing, f: LandingFile, all_paths: set[str], data: bytes,
            expected_signer: str, fleet: str) -> tuple[str | None, str | None]:
    """(signer, reason) of a signed fleet's file: the recovered signer when the signature
    checks, else the reason the whole file is rejected. The .sig is read only when it is a
    small regular file inside the landing zone."""
    sig_path = f.path + ".sig"
    if sig_path not in all_paths:
        return None, MISSING_SIGNATURE
    sig, refusal = landing.read_or_refuse(sig_path, SIG_MAX_BYTES)
    if refusal is None:
        verdict = verify_batch(data, sig, expected_signer, f"fleet {fleet}")
        return (verdict.signer, None) if verdict.reason is None else (None, verdict.reason)
    return None, f".sig file refused: {refusal.reason}"
