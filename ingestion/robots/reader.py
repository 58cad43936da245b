"""Robot telemetry ingestion: `landing/robot_telemetry/<date>/<fleet_id>/<file>.jsonl`,
one state record per line (DATA_CONTRACTS.md; METHODOLOGY.md section 1, Robots).

A record is valid when its robot_id is a registered robot, its ts carries a UTC offset and
is before the limit of its delivery day (`ingestion.nvml.ingest.ts_limit`), and the three
lifetime counters are numbers within their bounds (`ingestion.bounds`; `mode` does not
matter). Parsing and validation run as one DuckDB pass over all new files; `errors` is
kept as JSON text. A file that is not a regular file inside the landing zone, or is over
its size limit, is refused unread: one quarantine row and a ledger entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.bounds import (FILE_MAX_BYTES, LINE_MAX_BYTES, ROBOT_COUNTERS, bound_text,
                              sql_number)
from ingestion.jsonl_lines import TS_WITH_OFFSET, register_lines, unregister
from ingestion.landing import (FileRefused, Landing, Refusal, drop_long_lines, ledger,
                               quarantine, record_files, refuse_files, sha256_hex)
from ingestion.nvml.ingest import ts_limit
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
        Check("j.robot_id is null or json_type(j.robot_id) <> 'VARCHAR'", "'robot_id'",
              "'robot_id ' || coalesce(j.robot_id::varchar, 'missing') || ': expected a string'"),
        Check("a.asset_id is null", "'robot_id'",
              "'unknown asset ' || (j.robot_id->>'$') || ': expected a robot registered in "
              "assets.csv'"),
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
    files = [f for f in landing.list(SOURCE, folder_depth=2, dates=dates, date_index=0)
             if f.rel.endswith(".jsonl")]
    seen = ledger(con, SOURCE)
    rels, contents, shas, fleets = [], [], [], []
    skipped = 0
    changed = []
    refused: list[tuple[str, Refusal]] = []
    for f in files:
        refusal = landing.refusal(f, max_bytes)
        if refusal is None:
            try:
                data = landing.read_bytes(f, max_bytes)
            except FileRefused as e:
                refusal = e.refusal
        if refusal is not None:
            if seen.get(f.rel) == refusal.marker:
                skipped += 1
            else:
                refused.append((f.rel, refusal))
            continue
        sha = sha256_hex(data)
        if seen.get(f.rel) == sha:
            skipped += 1
            continue
        if f.rel in seen:
            changed.append(f.rel)
        rels.append(f.rel)
        contents.append(data)
        shas.append(sha)
        fleets.append(f.parts[2])
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
    limits = [ts_limit(rel.split("/")[1], now) for rel in rels]
    meta = pa.table({"file_idx": pa.array(range(len(rels)), type=pa.int32()),
                     "rel": pa.array(rels, type=pa.string()),
                     "fleet_id": pa.array(fleets, type=pa.string()),
                     "changed": pa.array([r in changed for r in rels], type=pa.bool_()),
                     "folder_reason": pa.array(
                         [None if lim else f"delivery folder {rel.split('/')[1]!r}: expected "
                          f"{SOURCE}/<YYYY-MM-DD>/<fleet_id>/" for rel, lim in zip(rels, limits)],
                         type=pa.string()),
                     "ts_limit": pa.array([lim[0] if lim else now for lim in limits],
                                          type=pa.timestamp("us", tz="UTC")),
                     "ts_rule": pa.array([lim[1] if lim else "" for lim in limits],
                                         type=pa.string())})
    robots = pa.table({"asset_id": pa.array([a.asset_id for a in registry.assets
                                             if a.asset_type == "robot"], type=pa.string())})
    con.register("_rob_files", meta)
    con.register("_rob_assets", robots)
    bad_utf8 = register_lines(con, "_rob_lines", contents, rels) + too_long
    try:
        con.execute("begin transaction")
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
            for rel, sha in zip(rels, shas)])
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
