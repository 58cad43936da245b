"""GPU telemetry (NVML) ingestion: `landing/gpu_telemetry/<date>/<node_id>/<batch>.jsonl`,
`.jsonl.gz` or `.jsonl.zst`, with its `.sig` over the bytes as delivered (DATA_CONTRACTS.md;
METHODOLOGY.md section 1). A compressed batch is decompressed, at most to the size limit,
once its ledger entry says it is new.

Signatures are verified in Python (coincurve backend, about 0.1 ms a batch); every line
of every new batch is then parsed, validated and routed in one DuckDB pass: valid samples
into `raw.gpu_samples` (duplicates kept; staging removes them), the rest into
`raw.quarantine` with the offending field and the reason. A batch that fails its sha256 or
signature check is quarantined whole, one row per sample line (one row for the file when it
has no line). Before anything is read, a batch must be a regular file inside the landing
zone within the size limit of `ingestion.bounds`; a refused batch leaves one quarantine row
and a ledger entry, so it is refused once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import duckdb
import pyarrow as pa

from ingestion.bounds import (FILE_MAX_BYTES, GPU_NUMERIC, LINE_MAX_BYTES, SIG_MAX_BYTES,
                              TS_AFTER_DELIVERY_DAY_MAX, bound_text, sql_number)
from ingestion.jsonl_lines import TS_WITH_OFFSET, register_lines, unregister
from ingestion.compression import delivery_stem
from ingestion.landing import (FileRefused, Landing, LandingFile, Refusal, Rejection,
                               content_refusal_marker, delivery_content, drop_long_lines,
                               is_telemetry_delivery, ledger, quarantine, record_files,
                               refuse_files, sha256_hex)
from ingestion.nvml.signature import MISSING_SIGNATURE, BatchVerdict, verify_batch
from ingestion.registry import Registry
from ingestion.sql_checks import RECORD_SQL, Check, code_sql, field_sql, reason_sql
from ingestion.stats import IngestStats

SOURCE = "gpu_telemetry"

_GPU_SCHEMA = pa.schema([("asset_id", pa.string()), ("node_id", pa.string()),
                         ("node_address", pa.string())])


@dataclass(frozen=True)
class GpuFleet:
    """What checking GPU telemetry needs of the registry, and nothing more: every GPU with
    its node and that node's signing address (`gpus`, one Arrow table), and each node's
    signing address. Under 100 bytes a GPU pickled, against some 660 for the registry's
    objects once unpickled: what the lake engine sends to every task and every worker."""

    gpus: pa.Table  # asset_id, node_id, node_address (_GPU_SCHEMA)
    node_addresses: dict[str, str]  # node_id -> the address whose key signs its batches

    @classmethod
    def of(cls, registry: Registry | GpuFleet) -> GpuFleet:
        if isinstance(registry, GpuFleet):
            return registry
        gpus = [a for a in registry.assets if a.asset_type == "gpu"]
        return cls(pa.table([pa.array([a.asset_id for a in gpus], pa.string()),
                             pa.array([a.node_id for a in gpus], pa.string()),
                             pa.array([a.node_address for a in gpus], pa.string())],
                            schema=_GPU_SCHEMA),
                   dict(registry.node_addresses))

    def node_address(self, node_id: str) -> str | None:
        return self.node_addresses.get(node_id)

# JSON numbers are kept as JSON text so that a quoted number ("87") is a type error.
_STRUCT = json.dumps({
    "ts": "JSON", "node_id": "VARCHAR", "gpu_uuid": "JSON", "gpu_util_pct": "JSON",
    "mem_util_pct": "JSON", "mem_used_mib": "JSON", "power_w": "JSON", "energy_mj": "JSON",
    "temp_c": "JSON", "sm_clock_mhz": "JSON", "xid_errors": "JSON", "ecc_dbe_count": "JSON",
    "serial": "VARCHAR", "pci_bus_id": "VARCHAR"})

# (field, SQL type, required): checked in this order; bounds in ingestion.bounds
_NUMERIC = (
    ("gpu_util_pct", "double", True),
    ("mem_util_pct", "double", False),
    ("mem_used_mib", "double", False),
    ("power_w", "double", True),
    ("temp_c", "double", True),
    ("energy_mj", "decimal(38,6)", True),
    ("sm_clock_mhz", "double", False),
    ("xid_errors", "integer", False),
    ("ecc_dbe_count", "integer", False),
)
_UNITS = {"gpu_util_pct": " %", "mem_util_pct": " %", "power_w": " W", "temp_c": " C"}


def _num(name: str, sql_type: str) -> str:
    """A numeric field's typed value (NULL when absent or not a number): a column computed
    once per line beside the parsed record (_TYPED), which the checks and the load read."""
    return f"v_{name}"


# The typed values of a parsed line `j`, each computed once: the checks test some of them
# three times, and the load reads them again.
_TYPED = ", ".join([f"try_cast(j.{name}::varchar as {sql_type}) as v_{name}"
                    for name, sql_type, _ in _NUMERIC]
                   + ["j.ts->>'$' as ts_text", "try_cast(ts_text as timestamptz) as ts_value"])


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
        Check(f"json_type(j.ts) <> 'VARCHAR' or not regexp_full_match(ts_text, "
              f"'{TS_WITH_OFFSET}') or ts_value is null", "'ts'",
              "'ts ' || j.ts::varchar || ': expected an ISO 8601 timestamp with an explicit "
              "UTC offset'"),
        Check("ts_value >= b.ts_limit", "'ts'",
              "'ts ' || (j.ts->>'$') || ' is not before ' || b.ts_rule"),
    ]
    for name, sql_type, required in _NUMERIC:
        lo, hi = GPU_NUMERIC[name]
        v = _num(name, sql_type)
        rng = bound_text(lo, hi) + _UNITS.get(name, "")
        if required:
            checks.append(Check(f"j.{name} is null", f"'{name}'",
                                f"'missing {name}: expected a number {rng}'"))
        checks.append(Check(f"j.{name} is not null and {v} is null", f"'{name}'",
                            f"'{name} ' || j.{name}::varchar || ': expected a number {rng}'"))
        finite = f"not isfinite({v}) or " if sql_type == "double" else ""
        cond = f"{finite}{v} < {sql_number(lo)} or {v} > {sql_number(hi)}"
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
                          ("reason", pa.string()), ("sha256", pa.string()),
                          ("ts_limit", pa.timestamp("us", tz="UTC")), ("ts_rule", pa.string())])
# (file_idx, rel, batch_id, node_id, signer, ok, reason, sha256, ts_limit, ts_rule) of a batch
_Meta = tuple[int, str, str, str, str, bool, "str | None", str, datetime, str]


def ts_limit(folder: str, now: datetime) -> tuple[datetime, str] | None:
    """The first instant a record of delivery folder `folder` may not be dated at: the end
    of the delivery day plus TS_AFTER_DELIVERY_DAY_MAX, or the run's clock `now` when that
    is earlier; with the rule as the quarantine reason states it. None when `folder` is
    not a date."""
    try:
        day = date.fromisoformat(folder)
    except ValueError:
        return None
    end = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    limit = end + TS_AFTER_DELIVERY_DAY_MAX
    if now < limit:
        # the clock itself stays out of the reason: a replay of the same bundle must give
        # the same quarantine rows whenever it runs
        return now, "the run's clock: expected no record dated in the future"
    return limit, (f"{limit.isoformat()}, the end of the delivery day {folder} plus "
                   f"{TS_AFTER_DELIVERY_DAY_MAX.days} day: expected no record dated later")


def ingest_gpu_telemetry(con: duckdb.DuckDBPyConnection, landing_dir: str | Path,
                         registry: Registry | GpuFleet, dates: Iterable[date] | None = None,
                         chunk_bytes: int = CHUNK_BYTES, now: datetime | None = None,
                         max_file_bytes: int | None = None,
                         files: Sequence[LandingFile] | None = None) -> IngestStats:
    """Ingest the GPU telemetry batches under `landing_dir` (all delivery dates, or only
    `dates`). Batches already in the file ledger with the same sha256 are skipped.

    Batches are verified and loaded in chunks of about `chunk_bytes` of JSONL, in path
    order, each chunk in its own transaction with its ledger rows: memory stays bounded
    whatever the backfill, and an interrupted run resumes after the last committed chunk.

    `now` is the run's clock (samples dated after it are quarantined); `max_file_bytes`
    replaces the size limit of ingestion.bounds (tests); `files` (deliveries and their
    .sig, as `Landing.list` gives them) replaces the listing of the zone: one (node, day)
    partition's share of a run that is split across workers."""
    t0 = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    max_bytes = FILE_MAX_BYTES[SOURCE] if max_file_bytes is None else max_file_bytes
    landing = Landing(landing_dir)
    if files is None:
        files = landing.list(SOURCE, folder_depth=2, dates=dates, date_index=0)
    all_paths = {f.path for f in files}
    batches = [f for f in files if is_telemetry_delivery(f)]
    seen = ledger(con, SOURCE)

    fleet = GpuFleet.of(registry)
    con.register("_gpu_assets", fleet.gpus)
    read = skipped = loaded = quarantined = 0
    contents: list[bytes] = []
    rows_meta: list[_Meta] = []
    size = 0
    refused: list[tuple[str, Refusal]] = []
    try:
        for f in batches:
            data, refusal = landing.read_or_refuse(f, max_bytes)
            if refusal is not None:
                if seen.get(f.rel) == refusal.marker:
                    skipped += 1
                else:
                    refused.append((f.rel, refusal))
                continue
            sha = sha256_hex(data)
            if seen.get(f.rel) in (sha, content_refusal_marker(sha)):
                skipped += 1
                continue
            # the signature covers the delivered bytes; the lines are the decompressed ones
            try:
                content = delivery_content(f.rel, data, max_bytes)
            except FileRefused as e:
                refused.append((f.rel, e.refusal))
                continue
            node_id = f.parts[2]
            verdict = _verify(landing, f.path + ".sig", all_paths, data,
                              fleet.node_address(node_id), node_id)
            reason = verdict.reason
            if f.rel in seen:
                reason = (f"batch changed after it was ingested (sha256 {seen[f.rel]} then "
                          f"{verdict.sha256}): expected immutable landing files")
            limit = ts_limit(f.parts[1], now)
            if limit is None:
                limit = (now, "the run's clock")
                reason = reason or (f"delivery folder {f.parts[1]!r}: expected "
                                    f"{SOURCE}/<YYYY-MM-DD>/<node_id>/")
            contents.append(content)
            rows_meta.append((len(rows_meta), f.rel, delivery_stem(PurePosixPath(f.rel).name),
                              node_id,
                              verdict.signer or "", reason is None, reason, verdict.sha256,
                              limit[0], limit[1]))
            size += len(content)
            if size >= chunk_bytes:
                ok, bad = _load_chunk(con, contents, rows_meta, seen)
                read, loaded, quarantined = read + len(rows_meta), loaded + ok, quarantined + bad
                contents, rows_meta, size = [], [], 0
        if rows_meta:
            ok, bad = _load_chunk(con, contents, rows_meta, seen)
            read, loaded, quarantined = read + len(rows_meta), loaded + ok, quarantined + bad
        if refused:
            _refuse(con, refused)
            read, quarantined = read + len(refused), quarantined + len(refused)
    finally:
        con.unregister("_gpu_assets")
    return IngestStats(SOURCE, read, skipped, loaded, quarantined, time.perf_counter() - t0)


def _verify(landing: Landing, sig_path: str, all_paths: set[str], data: bytes,
            expected_signer: str | None, node_id: str) -> BatchVerdict:
    """verify_batch, with the .sig read only when it is a small regular file in the zone."""
    if sig_path not in all_paths:
        return verify_batch(data, None, expected_signer, node_id)
    sig, refusal = landing.read_or_refuse(sig_path, SIG_MAX_BYTES)
    if refusal is None:
        return verify_batch(data, sig, expected_signer, node_id)
    full = verify_batch(data, None, expected_signer, node_id)
    return BatchVerdict(full.sha256, None, f".sig file refused: {refusal.reason}")


def _refuse(con: duckdb.DuckDBPyConnection, refused: list[tuple[str, Refusal]]) -> None:
    con.execute("begin transaction")
    try:
        refuse_files(con, SOURCE, refused)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _load_chunk(con: duckdb.DuckDBPyConnection, contents: list[bytes],
                rows_meta: list[_Meta], seen: dict[str, str]) -> tuple[int, int]:
    """Validate and load one chunk of batches (`contents[i]` is the batch of
    `rows_meta[i]`) in one transaction with their ledger rows; `contents` is emptied.
    Returns (rows loaded, rows quarantined)."""
    rels = [m[1] for m in rows_meta]
    meta = pa.table(list(zip(*rows_meta)), schema=_META_SCHEMA)
    con.register("_gpu_batches", meta)
    too_long: list[Rejection] = []
    for i, rel in enumerate(rels):
        contents[i], bad = drop_long_lines(contents[i], rel, LINE_MAX_BYTES[SOURCE])
        too_long += bad
    # a batch rejected whole that has no line to quarantine still leaves one row
    empty = [Rejection(m[1], 0, "", m[6], "") for m, data in zip(rows_meta, contents)
             if m[6] is not None and not data.strip()]
    bad_utf8 = register_lines(con, "_gpu_lines", contents, rels) + too_long + empty
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
                   case when q is not null then p.raw end as raw,
                   p.* exclude (file_idx, line, raw, j, ts_text)
            from (select *, {_TYPED} from (
                    select file_idx, line, raw,
                           case when json_valid(raw) then json_transform(raw, '{_STRUCT}') end as j
                    from _gpu_lines)) p
            join _gpu_batches b using (file_idx)
            left join _gpu_assets a on a.asset_id = (j.gpu_uuid->>'$')""")
        loaded = con.execute(f"""
            insert into raw.gpu_samples
            select b.rel, c.line, b.batch_id, b.node_id, j.gpu_uuid->>'$',
                   ts_value,
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
        for _, rel, _, _, _, _, reason, sha, _, _ in rows_meta:
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
