"""GPU telemetry (NVML) ingestion: `landing/gpu_telemetry/<date>/<node_id>/<batch>.jsonl`
with its `.sig` (DATA_CONTRACTS.md; METHODOLOGY.md section 1).

Signatures are verified in Python (coincurve backend, about 0.1 ms a batch); every line
of every new batch is then parsed, validated and routed in one DuckDB pass: valid samples
into `raw.gpu_samples` (duplicates kept; staging removes them), the rest into
`raw.quarantine` with the offending field and the reason. A batch that fails its sha256 or
signature check is quarantined whole, one row per sample line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path, PurePosixPath

import duckdb
import pyarrow as pa

from ingestion.jsonl_lines import TS_WITH_OFFSET, register_lines, unregister
from ingestion.landing import Landing, ledger, quarantine, record_files
from ingestion.nvml.signature import MISSING_SIGNATURE, verify_batch
from ingestion.registry import Registry
from ingestion.sql_checks import RECORD_SQL, Check, code_sql, field_sql, reason_sql
from ingestion.stats import IngestStats

SOURCE = "gpu_telemetry"

# JSON numbers are kept as JSON text so that a quoted number ("87") is a type error.
_STRUCT = json.dumps({
    "ts": "JSON", "node_id": "VARCHAR", "gpu_uuid": "JSON", "gpu_util_pct": "JSON",
    "mem_util_pct": "JSON", "mem_used_mib": "JSON", "power_w": "JSON", "energy_mj": "JSON",
    "temp_c": "JSON", "sm_clock_mhz": "JSON", "xid_errors": "JSON", "ecc_dbe_count": "JSON",
    "serial": "VARCHAR", "pci_bus_id": "VARCHAR"})

# (field, SQL type, lower bound, upper bound, required): checked in this order
_NUMERIC = (
    ("gpu_util_pct", "double", 0, 100, True),
    ("mem_util_pct", "double", 0, 100, False),
    ("mem_used_mib", "double", 0, None, False),
    ("power_w", "double", 0, 2000, True),
    ("temp_c", "double", -20, 130, True),
    ("energy_mj", "decimal(38,6)", 0, None, True),
    ("sm_clock_mhz", "double", 0, None, False),
    ("xid_errors", "integer", 0, None, False),
    ("ecc_dbe_count", "integer", 0, None, False),
)
_UNITS = {"gpu_util_pct": " %", "mem_util_pct": " %", "power_w": " W", "temp_c": " C"}


def _num(name: str, sql_type: str) -> str:
    return f"try_cast(j.{name}::varchar as {sql_type})"


def _checks() -> list[Check]:
    """The validity rules of a sample (METHODOLOGY.md section 1), in the order reported."""
    checks = [
        Check("not json_valid(raw) or not regexp_matches(raw, '^[ \t]*\\{')", "''",
              "'not a JSON object: expected one JSON object per line'"),
        Check("not (b.ok)", "''", "b.reason"),
        Check("j.gpu_uuid is null", "'gpu_uuid'",
              "'missing gpu_uuid: expected the NVML UUID string'"),
        Check("json_type(j.gpu_uuid) <> 'VARCHAR'", "'gpu_uuid'",
              "'gpu_uuid ' || j.gpu_uuid::varchar || ': expected a string'"),
        Check("a.asset_id is null", "'gpu_uuid'",
              "'unknown asset ' || (j.gpu_uuid->>'$') || ': expected a GPU registered in "
              "assets.csv'"),
        Check("a.node_address <> b.signer", "'gpu_uuid'",
              "'GPU ' || a.asset_id || ' is registered to node_address ' || a.node_address || "
              "' (' || a.node_id || '): expected it in a batch signed by that key, not ' || b.signer"),
        Check("j.ts is null", "'ts'",
              "'missing ts: expected an ISO 8601 timestamp with a UTC offset'"),
        Check(f"json_type(j.ts) <> 'VARCHAR' or not regexp_full_match(j.ts->>'$', "
              f"'{TS_WITH_OFFSET}') or try_cast(j.ts->>'$' as timestamptz) is null", "'ts'",
              "'ts ' || j.ts::varchar || ': expected an ISO 8601 timestamp with an explicit "
              "UTC offset'"),
    ]
    for name, sql_type, lo, hi, required in _NUMERIC:
        v = _num(name, sql_type)
        unit = _UNITS.get(name, "")
        rng = f"{lo}..{hi}{unit}" if hi is not None else f">= {lo}{unit}"
        if required:
            checks.append(Check(f"j.{name} is null", f"'{name}'",
                                f"'missing {name}: expected a number {rng}'"))
        checks.append(Check(f"j.{name} is not null and {v} is null", f"'{name}'",
                            f"'{name} ' || j.{name}::varchar || ': expected a number {rng}'"))
        cond = f"{v} < {lo}" + (f" or {v} > {hi}" if hi is not None else "")
        checks.append(Check(f"({cond})", f"'{name}'",
                            f"'{name} ' || j.{name}::varchar || ' out of range: expected {rng}'"))
    return checks


_CHECKS = _checks()


# JSONL bytes verified and loaded per transaction: bounds the memory of a large backfill
# (the bytes, their Arrow lines and DuckDB's parsed chunk) while keeping each SQL pass
# large enough to run at full speed.
CHUNK_BYTES = 128 << 20

_META_SCHEMA = pa.schema([("file_idx", pa.int32()), ("rel", pa.string()),
                          ("batch_id", pa.string()), ("node_id", pa.string()),
                          ("signer", pa.string()), ("ok", pa.bool_()),
                          ("reason", pa.string()), ("sha256", pa.string())])
# (file_idx, rel, batch_id, node_id, signer, ok, reason, sha256) of one batch
_Meta = tuple[int, str, str, str, str, bool, "str | None", str]


def ingest_gpu_telemetry(con: duckdb.DuckDBPyConnection, landing_dir: str | Path,
                         registry: Registry, dates: Iterable[date] | None = None,
                         chunk_bytes: int = CHUNK_BYTES) -> IngestStats:
    """Ingest the GPU telemetry batches under `landing_dir` (all delivery dates, or only
    `dates`). Batches already in the file ledger with the same sha256 are skipped.

    Batches are verified and loaded in chunks of about `chunk_bytes` of JSONL, in path
    order, each chunk in its own transaction with its ledger rows: memory stays bounded
    whatever the backfill, and an interrupted run resumes after the last committed chunk."""
    t0 = time.perf_counter()
    landing = Landing(landing_dir)
    files = landing.list(SOURCE, folder_depth=2, dates=dates, date_index=0)
    all_paths = {f.path for f in files}
    batches = [f for f in files if f.rel.endswith(".jsonl")]
    seen = ledger(con, SOURCE)

    gpu_assets = [a for a in registry.assets if a.asset_type == "gpu"]
    gpus = pa.table({
        "asset_id": [a.asset_id for a in gpu_assets],
        "node_id": [a.node_id for a in gpu_assets],
        "node_address": [a.node_address for a in gpu_assets],
    }, schema=pa.schema([("asset_id", pa.string()), ("node_id", pa.string()),
                         ("node_address", pa.string())]))
    con.register("_gpu_assets", gpus)
    read = skipped = loaded = quarantined = 0
    contents: list[bytes] = []
    rows_meta: list[_Meta] = []
    size = 0
    try:
        for f in batches:
            data = landing.read_bytes(f)
            node_id = f.parts[2]
            sig_path = f.path + ".sig"
            sig = landing.read_bytes(sig_path) if sig_path in all_paths else None
            verdict = verify_batch(data, sig, registry.node_address(node_id), node_id)
            if seen.get(f.rel) == verdict.sha256:
                skipped += 1
                continue
            reason = verdict.reason
            if f.rel in seen:
                reason = (f"batch changed after it was ingested (sha256 {seen[f.rel]} then "
                          f"{verdict.sha256}): expected immutable landing files")
            contents.append(data)
            rows_meta.append((len(rows_meta), f.rel,
                              PurePosixPath(f.rel).name.removesuffix(".jsonl"), node_id,
                              verdict.signer or "", reason is None, reason, verdict.sha256))
            size += len(data)
            if size >= chunk_bytes:
                ok, bad = _load_chunk(con, contents, rows_meta, seen)
                read, loaded, quarantined = read + len(rows_meta), loaded + ok, quarantined + bad
                contents, rows_meta, size = [], [], 0
        if rows_meta:
            ok, bad = _load_chunk(con, contents, rows_meta, seen)
            read, loaded, quarantined = read + len(rows_meta), loaded + ok, quarantined + bad
    finally:
        con.unregister("_gpu_assets")
    return IngestStats(SOURCE, read, skipped, loaded, quarantined, time.perf_counter() - t0)


def _load_chunk(con: duckdb.DuckDBPyConnection, contents: list[bytes],
                rows_meta: list[_Meta], seen: dict[str, str]) -> tuple[int, int]:
    """Validate and load one chunk of batches (`contents[i]` is the batch of
    `rows_meta[i]`) in one transaction with their ledger rows; `contents` is emptied.
    Returns (rows loaded, rows quarantined)."""
    rels = [m[1] for m in rows_meta]
    meta = pa.table(list(zip(*rows_meta)), schema=_META_SCHEMA)
    con.register("_gpu_batches", meta)
    bad_utf8 = register_lines(con, "_gpu_lines", contents, rels)
    contents.clear()
    try:
        con.execute("begin transaction")
        # a batch read again (it waited for its .sig) replaces what it left in the quarantine
        fresh = [r for r in rels if r not in seen]
        if fresh:
            con.execute("delete from raw.quarantine where source = ? and file in "
                        "(select unnest(?))", [SOURCE, fresh]).fetchall()
        # one pass: parse, tag each line with its first failing check (NULL when valid)
        con.execute(f"""
            create or replace temp table _gpu_checked as
            select p.file_idx, p.line, j, {code_sql(_CHECKS)} as q,
                   case when q is not null then p.raw end as raw
            from (select file_idx, line, raw,
                         case when json_valid(raw) then json_transform(raw, '{_STRUCT}') end as j
                  from _gpu_lines) p
            join _gpu_batches b using (file_idx)
            left join _gpu_assets a on a.asset_id = (j.gpu_uuid->>'$')""")
        loaded = con.execute(f"""
            insert into raw.gpu_samples
            select b.rel, c.line, b.batch_id, b.node_id, j.gpu_uuid->>'$',
                   (j.ts->>'$')::timestamptz,
                   {_num('gpu_util_pct', 'double')}, {_num('mem_util_pct', 'double')},
                   {_num('mem_used_mib', 'double')}, {_num('power_w', 'double')},
                   {_num('energy_mj', 'decimal(38,6)')}, {_num('temp_c', 'double')},
                   {_num('sm_clock_mhz', 'double')}, {_num('xid_errors', 'integer')},
                   {_num('ecc_dbe_count', 'integer')}, j.serial, j.pci_bus_id
            from _gpu_checked c join _gpu_batches b using (file_idx)
            where q is null""").fetchall()[0][0]
        quarantined = con.execute(f"""
            insert into raw.quarantine
            select 'gpu_telemetry', b.rel, c.line, {field_sql(_CHECKS, 'q')},
                   {reason_sql(_CHECKS, 'q')}, {RECORD_SQL}, now()
            from _gpu_checked c join _gpu_batches b using (file_idx)
            left join _gpu_assets a on a.asset_id = (j.gpu_uuid->>'$')
            where q is not null
            order by b.rel, c.line""").fetchall()[0][0]
        quarantine(con, SOURCE, bad_utf8)
        quarantined += len(bad_utf8)
        per_file = dict(con.execute("""
            select b.rel, count(*) filter (where q is null) || ',' ||
                          count(*) filter (where q is not null)
            from _gpu_checked join _gpu_batches b using (file_idx) group by b.rel""").fetchall())
        bad_by_file: dict[str, int] = {}
        for r in bad_utf8:
            bad_by_file[r.file] = bad_by_file.get(r.file, 0) + 1
        ledger_rows = []
        for _, rel, _, _, _, _, reason, sha in rows_meta:
            if reason == MISSING_SIGNATURE:
                # quarantined for now, but not in the ledger: when its .sig arrives the
                # batch is read again (its earlier quarantine rows are replaced then)
                continue
            ok, bad = (int(x) for x in per_file.get(rel, "0,0").split(","))
            ledger_rows.append((rel, sha, ok, bad + bad_by_file.get(rel, 0)))
        record_files(con, SOURCE, ledger_rows)
        con.execute("drop table _gpu_checked")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        unregister(con, "_gpu_lines")
        con.unregister("_gpu_batches")
    return int(loaded), int(quarantined)
