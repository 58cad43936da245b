"""Robot telemetry ingestion: `landing/robot_telemetry/<date>/<fleet_id>/<file>.jsonl`,
one state record per line (DATA_CONTRACTS.md; METHODOLOGY.md section 1, Robots).

A record is valid when its robot_id is a registered robot, its ts carries a UTC offset and
the three lifetime counters are numbers >= 0 (`mode` does not matter). Parsing and
validation run as one DuckDB pass over all new files; `errors` is kept as JSON text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.jsonl_lines import TS_WITH_OFFSET, decode_files, register_lines, unregister
from ingestion.landing import Landing, ledger, quarantine, record_files, sha256_hex
from ingestion.registry import Registry
from ingestion.stats import IngestStats

SOURCE = "robot_telemetry"
COUNTERS = ("operating_s", "cleaning_s", "area_cleaned_m2")

_STRUCT = json.dumps({"robot_id": "JSON", "ts": "JSON", "seq": "JSON", "mode": "JSON",
                      "counters": "JSON", "errors": "JSON"})


def _counter(name: str) -> str:
    return f"try_cast(json_extract(j.counters, '$.{name}')::varchar as decimal(38,6))"


def _checks() -> tuple[str, str]:
    checks = [
        ("not json_valid(text) or json_type(text) <> 'OBJECT'", "''",
         "'not a JSON object: expected one JSON object per line'"),
        ("j.robot_id is null or json_type(j.robot_id) <> 'VARCHAR'", "'robot_id'",
         "'robot_id ' || coalesce(j.robot_id::varchar, 'missing') || ': expected a string'"),
        ("a.asset_id is null", "'robot_id'",
         "'unknown asset ' || (j.robot_id->>'$') || ': expected a robot registered in assets.csv'"),
        (f"j.ts is null or json_type(j.ts) <> 'VARCHAR' or not regexp_full_match(j.ts->>'$', "
         f"'{TS_WITH_OFFSET}') or try_cast(j.ts->>'$' as timestamptz) is null", "'ts'",
         "'ts ' || coalesce(j.ts::varchar, 'missing') || "
         "': expected an ISO 8601 timestamp with an explicit UTC offset'"),
        ("j.seq is not null and try_cast(j.seq::varchar as bigint) is null", "'seq'",
         "'seq ' || j.seq::varchar || ': expected an integer'"),
        ("j.counters is null or json_type(j.counters) <> 'OBJECT'", "'counters'",
         "'counters ' || coalesce(j.counters::varchar, 'missing') || ': expected an object'"),
    ]
    for c in COUNTERS:
        raw = f"json_extract(j.counters, '$.{c}')"
        checks.append((f"{raw} is null or json_type({raw}) = 'NULL'", f"'counters.{c}'",
                       f"'missing counters.{c}: expected a number >= 0'"))
        checks.append((f"{_counter(c)} is null", f"'counters.{c}'",
                       f"'counters.{c} ' || {raw}::varchar || ': expected a number >= 0'"))
        checks.append((f"{_counter(c)} < 0", f"'counters.{c}'",
                       f"'counters.{c} ' || {raw}::varchar || ': expected a number >= 0'"))
    checks.append(("j.errors is not null and json_type(j.errors) not in ('ARRAY', 'NULL')",
                   "'errors'", "'errors ' || j.errors::varchar || ': expected an array'"))
    field = "case " + " ".join(f"when {c} then {f}" for c, f, _ in checks) + " end"
    reason = "case " + " ".join(f"when {c} then {r}" for c, _, r in checks) + " end"
    return field, reason


_FIELD_SQL, _REASON_SQL = _checks()


def ingest_robot_telemetry(con: duckdb.DuckDBPyConnection, landing_dir: str | Path,
                           registry: Registry, dates: Iterable[date] | None = None) -> IngestStats:
    """Ingest robot state records under `landing_dir` (all delivery dates, or only `dates`)."""
    t0 = time.perf_counter()
    landing = Landing(landing_dir)
    files = [f for f in landing.list(SOURCE, folder_depth=2, dates=dates, date_index=0)
             if f.rel.endswith(".jsonl")]
    seen = ledger(con, SOURCE)
    rels, contents, shas, fleets = [], [], [], []
    skipped = 0
    changed = []
    for f in files:
        data = landing.read_bytes(f)
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
    if not rels:
        return IngestStats(SOURCE, 0, skipped, 0, 0, time.perf_counter() - t0)

    texts, bad_utf8 = decode_files(contents, rels)
    meta = pa.table({"file_idx": pa.array(range(len(rels)), type=pa.int32()),
                     "rel": pa.array(rels, type=pa.string()),
                     "fleet_id": pa.array(fleets, type=pa.string()),
                     "changed": pa.array([r in changed for r in rels], type=pa.bool_())})
    robots = pa.table({"asset_id": pa.array([a.asset_id for a in registry.assets
                                             if a.asset_type == "robot"], type=pa.string())})
    con.register("_rob_files", meta)
    con.register("_rob_assets", robots)
    register_lines(con, "_rob_lines", texts)
    try:
        con.execute("begin transaction")
        con.execute(f"""
            create or replace temp table _rob_checked as
            with parsed as (
                select l.file_idx, l.line, l.text,
                       case when json_valid(l.text) and json_type(l.text) = 'OBJECT'
                            then json_transform(l.text, '{_STRUCT}') end as j
                from _rob_lines l)
            select f.rel, f.fleet_id, p.line, p.text, j,
                   case when f.changed then '' else {_FIELD_SQL} end as q_field,
                   case when f.changed then 'file changed after it was ingested: '
                        || 'expected immutable landing files' else {_REASON_SQL} end as q_reason
            from parsed p join _rob_files f using (file_idx)
            left join _rob_assets a on a.asset_id = (j.robot_id->>'$')""")
        loaded = con.execute(f"""
            insert into raw.robot_records
            select rel, line, fleet_id, j.robot_id->>'$', (j.ts->>'$')::timestamptz,
                   try_cast(j.seq::varchar as bigint), j.mode->>'$',
                   {_counter('operating_s')}, {_counter('cleaning_s')},
                   {_counter('area_cleaned_m2')}, coalesce(j.errors::varchar, '[]')
            from _rob_checked where q_reason is null order by rel, line""").fetchone()[0]
        quarantined = con.execute("""
            insert into raw.quarantine
            select 'robot_telemetry', rel, line, q_field, q_reason, text, now()
            from _rob_checked where q_reason is not null order by rel, line""").fetchone()[0]
        quarantine(con, SOURCE, bad_utf8)
        quarantined += len(bad_utf8)
        counts = {rel: (ok, bad) for rel, ok, bad in con.execute("""
            select rel, count(*) filter (where q_reason is null),
                   count(*) filter (where q_reason is not null)
            from _rob_checked group by rel""").fetchall()}
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
    return IngestStats(SOURCE, len(rels), skipped, int(loaded), int(quarantined),
                       time.perf_counter() - t0)
