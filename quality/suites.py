"""Expectation suites for every raw source and every mart, over one window of days.

Each suite reads the window's rows from the warehouse (registry tables whole), builds its
expectations (types, ranges, uniqueness, freshness, referential integrity against the
registry, allowed values) and runs them with great-expectations. No Dagster here.

A suite over a table too large to read row by row (the GPU samples: 1,440 a GPU a day)
reads instead a summary DuckDB computes over the window's rows, one row per UTC day and
GPU, and states its expectations on the summary's columns with the same meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import duckdb
import pandas as pd

from aidnav.config import load_settings
from ingestion.bounds import GPU_NUMERIC
from quality.gx_runner import SuiteResult, run_suite

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
LOWER_ADDRESS = r"^0x[0-9a-f]{40}$"


@dataclass(frozen=True)
class Suite:
    table: str                      # schema.table
    raw: bool                       # raw data: failing rows also go to the quarantine
    day_column: str | None          # None: the whole table (registry)
    key_columns: tuple[str, ...]
    expectations: Callable[[duckdb.DuckDBPyConnection, int], list[Any]]
    # a select the suite reads instead of the table's rows: `{table}{where}` in it is the
    # table with the window's where clause; its rows carry their UTC `day` (date)
    source_sql: str | None = None
    # the relation `{table}` stands for in source_sql, for the window: a narrower read of
    # the same rows than the table itself (default: the table)
    relation: Callable[[duckdb.DuckDBPyConnection, date, date], str] | None = None


def _ids(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [r[0] for r in con.execute(sql).fetchall()]


def _gx():
    from quality.gx_runner import _context

    _context()
    import great_expectations as gx

    return gx.expectations


def _not_null(*columns: str) -> list[Any]:
    e = _gx()
    return [e.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def _providers(con, days):
    e = _gx()
    return [*_not_null("provider_id", "onboarded_date"),
            e.ExpectColumnValuesToBeUnique(column="provider_id")]


def _deals(con, days):
    e = _gx()
    return [
        *_not_null("deal_id", "provider_id", "principal_usd", "funded_date", "maturity_date"),
        e.ExpectColumnValuesToBeUnique(column="deal_id"),
        e.ExpectColumnValuesToBeInSet(column="provider_id",
                                      value_set=_ids(con, "select provider_id from raw.providers")),
        e.ExpectColumnValuesToBeInSet(column="asset_class", value_set=["gpu", "robot"]),
        e.ExpectColumnValuesToBeInSet(column="structure", value_set=["fixed_rate", "revenue_share"]),
        e.ExpectColumnValuesToBeBetween(column="principal_usd", min_value=0, strict_min=True),
        e.ExpectColumnValuesToBeBetween(column="min_collateral_ratio", min_value=1, max_value=10),
        e.ExpectColumnPairValuesAToBeGreaterThanB(column_A="maturity_date", column_B="funded_date",
                                                  or_equal=True),
        e.ExpectColumnValuesToMatchRegex(column="provider_address", regex=ADDRESS),
        e.ExpectColumnValuesToMatchRegex(column="collection_address", regex=ADDRESS),
    ]


def _assets(con, days):
    e = _gx()
    return [
        *_not_null("asset_id", "deal_id", "purchase_price_usd", "acquired_date"),
        e.ExpectColumnValuesToBeUnique(column="asset_id"),
        e.ExpectColumnValuesToBeInSet(column="deal_id", value_set=_ids(con, "select deal_id from raw.deals")),
        e.ExpectColumnValuesToBeInSet(column="asset_type", value_set=["gpu", "robot"]),
        e.ExpectColumnValuesToBeBetween(column="purchase_price_usd", min_value=0, strict_min=True),
        e.ExpectColumnValuesToBeBetween(column="residual_pct", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="useful_life_days", min_value=1),
    ]


def _price_index(con, days):
    e = _gx()
    return [
        *_not_null("model", "as_of", "market_index"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["model", "as_of"]),
        e.ExpectColumnValuesToBeBetween(column="market_index", min_value=0, max_value=5, strict_min=True),
    ]


def _offchain_reserves(con, days):
    e = _gx()
    return [e.ExpectColumnValuesToBeUnique(column="as_of"),
            e.ExpectColumnValuesToBeBetween(column="amount_usd", min_value=0)]


def _invoices(con, days):
    e = _gx()
    return [
        *_not_null("invoice_id", "version", "deal_id", "period_start", "period_end", "amount_usd"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["invoice_id", "version"]),
        e.ExpectColumnValuesToBeInSet(column="status", value_set=["issued", "paid", "void"]),
        e.ExpectColumnValuesToBeInSet(column="deal_id", value_set=_ids(con, "select deal_id from raw.deals")),
        e.ExpectColumnValuesToBeInSet(column="provider_id",
                                      value_set=_ids(con, "select provider_id from raw.providers")),
        e.ExpectColumnPairValuesAToBeGreaterThanB(column_A="period_end", column_B="period_start",
                                                  or_equal=True),
        e.ExpectColumnValuesToBeBetween(column="amount_usd", min_value=-1e9, max_value=1e9),
    ]


# The summary of the window's GPU samples the suite reads: one row per UTC day, GPU and the
# node that reported it (one node a GPU-day in practice), with the figures today's rules
# need: whether its GPU and node are registered, sample and null counts, extreme readings
# (NaN, which a check on rows would skip as missing, left out), and how many of its samples
# share their (source_file, line) with another sample of the window.
GPU_SAMPLES_SUMMARY = """
with s as not materialized (
    -- the UTC day by arithmetic on the instant: no time zone lookup for 14 M rows
    select cast(make_timestamp(epoch_us(ts)) as date) as day, gpu_uuid, node_id, ts,
           source_file, line,
           gpu_util_pct, power_w, temp_c, energy_mj
    from {table}{where}),
-- pairs seen twice, found on their hash first (one integer to group 14 M rows on, not a
-- string and an integer), then kept only if the pair itself repeats
twice as (
    select hash(source_file, line) as h from s
    where source_file is not null or line is not null
    group by 1 having count(*) > 1),
repeated as (
    select source_file, line, true as repeated from s
    where hash(source_file, line) in (select h from twice)
      and (source_file is not null or line is not null)
    group by all having count(*) > 1),
summary as (
    select s.day, s.gpu_uuid, s.node_id,
           count(*) as samples,
           count(*) - count(s.ts) as ts_nulls,
           count(*) - count(s.energy_mj) as energy_mj_nulls,
           count(r.repeated) as repeated_lines,
           min(s.gpu_util_pct) filter (where not isnan(s.gpu_util_pct)) as gpu_util_pct_min,
           max(s.gpu_util_pct) filter (where not isnan(s.gpu_util_pct)) as gpu_util_pct_max,
           min(s.power_w) filter (where not isnan(s.power_w)) as power_w_min,
           max(s.power_w) filter (where not isnan(s.power_w)) as power_w_max,
           min(s.temp_c) filter (where not isnan(s.temp_c)) as temp_c_min,
           max(s.temp_c) filter (where not isnan(s.temp_c)) as temp_c_max,
           min(s.energy_mj) as energy_mj_min
    from s left join repeated r
        on s.source_file is not distinct from r.source_file
       and s.line is not distinct from r.line
    group by all)
-- registry references as flags (null for a missing id): a set of every GPU of a large
-- fleet in each expectation costs great-expectations seconds to copy
select day, gpu_uuid, node_id,
       gpu_uuid in (select asset_id from raw.assets where asset_type = 'gpu') as gpu_registered,
       node_id in (select node_id from raw.assets where node_id is not null) as node_registered,
       * exclude (day, gpu_uuid, node_id)
from summary
order by all
"""


def _samples_of_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> str:
    """The window's GPU samples: only the lake partitions of its days (ingestion.lake)."""
    from ingestion.lake.ingest import samples_of_days

    return samples_of_days(con, start, end)


def _gpu_samples(con, days):
    """On GPU_SAMPLES_SUMMARY: each rule of the samples as a rule of their summary."""
    e = _gx()
    [(gpus,)] = con.execute("select count(*) from raw.assets where asset_type = 'gpu'").fetchall()

    def between(column: str) -> list[Any]:
        lo, hi = GPU_NUMERIC[column]
        return [e.ExpectColumnValuesToBeBetween(column=f"{column}_min", min_value=lo),
                e.ExpectColumnValuesToBeBetween(column=f"{column}_max", max_value=hi)]

    return [
        # freshness: a book with GPUs delivers telemetry every day
        e.ExpectColumnSumToBeBetween(column="samples", min_value=days if gpus else 0),
        *_not_null("gpu_uuid"),
        *[e.ExpectColumnValuesToBeBetween(column=c, max_value=0)
          for c in ("ts_nulls", "energy_mj_nulls")],
        # (source_file, line) unique
        e.ExpectColumnValuesToBeBetween(column="repeated_lines", max_value=0),
        e.ExpectColumnValuesToBeInSet(column="gpu_registered", value_set=[True]),
        e.ExpectColumnValuesToBeInSet(column="node_registered", value_set=[True]),
        *between("gpu_util_pct"), *between("power_w"), *between("temp_c"),
        e.ExpectColumnValuesToBeBetween(column="energy_mj_min",
                                        min_value=GPU_NUMERIC["energy_mj"][0]),
    ]


def _robot_records(con, days):
    e = _gx()
    return [
        *_not_null("robot_id", "ts"),
        e.ExpectColumnValuesToBeInSet(column="robot_id", value_set=_ids(
            con, "select asset_id from raw.assets where asset_type = 'robot'")),
        e.ExpectColumnValuesToBeInSet(column="mode", value_set=[
            "CLEANING", "IDLE", "CHARGING", "MANUAL", "SERVICE", "EMERGENCY", "OFFLINE"]),
        *[e.ExpectColumnValuesToBeBetween(column=c, min_value=0)
          for c in ("operating_s", "cleaning_s", "area_cleaned_m2")],
    ]


def _chain_events(con, days):
    e = _gx()
    return [
        *_not_null("block_number", "tx_hash", "log_index", "address", "event"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["chain_id", "tx_hash", "log_index"]),
        e.ExpectColumnValuesToBeInSet(column="address", value_set=_ids(
            con, "select distinct lower(address) from raw.addresses")),
        e.ExpectColumnValuesToBeInSet(column="event", value_set=[
            "Transfer", "Deposit", "Withdraw", "NavPosted", "RootProposed", "RootAccepted",
            "Claimed", "OverrideRecorded", "RootRevoked"]),
        e.ExpectColumnValuesToBeBetween(column="arg_value", min_value=0),
    ]


def _nav(con, days):
    e = _gx()
    return [
        e.ExpectTableRowCountToEqual(value=days),
        e.ExpectColumnValuesToBeUnique(column="day"),
        *_not_null("nav_usd", "gross_assets", "share_price", "aid_supply"),
        e.ExpectColumnValuesToBeBetween(column="share_price", min_value=0, strict_min=True),
        e.ExpectColumnValuesToBeBetween(column="aid_supply", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="reserves_usd", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="carrying_value_total", min_value=0),
    ]


def _deal_positions(con, days):
    e = _gx()
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["day", "deal_id"]),
        e.ExpectColumnValuesToBeInSet(column="deal_id", value_set=_ids(con, "select deal_id from raw.deals")),
        e.ExpectColumnValuesToBeInSet(column="structure", value_set=["fixed_rate", "revenue_share"]),
        e.ExpectColumnValuesToBeBetween(column="dpd", min_value=0),
        e.ExpectColumnValuesToBeInSet(column="loss_rate", value_set=[0, 0.25, 0.5, 1]),
        e.ExpectColumnValuesToBeBetween(column="collateral_value", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="allowance", min_value=0),
    ]


# The GPU mart's rows, each with whether its asset_id is a registered GPU: a flag, as in
# the samples' summary, because great-expectations copies a value set of every GPU of the
# fleet several times per expectation (1.1 s of the suite's 2.5 s at 10,000 GPUs).
GPU_OPERATION_ROWS = """
select *, asset_id in (select asset_id from raw.assets where asset_type = 'gpu')
          as gpu_registered
from {table}{where}
"""


def _gpu_operation(con, days):
    e = _gx()
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["day", "asset_id"]),
        e.ExpectColumnValuesToBeInSet(column="gpu_registered", value_set=[True]),
        e.ExpectColumnValuesToBeBetween(column="coverage", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="uptime_hours", min_value=0, max_value=24),
        e.ExpectColumnValuesToBeInSet(column="status", value_set=["operating", "degraded", "offline"]),
        e.ExpectColumnValuesToBeBetween(column="offline_streak_days", min_value=0),
    ]


def _robot_operation(con, days):
    e = _gx()
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["day", "asset_id"]),
        e.ExpectColumnValuesToBeBetween(column="operating_hours", min_value=0, max_value=24),
        e.ExpectColumnValuesToBeInSet(column="status", value_set=["operating", "degraded", "offline"]),
    ]


def _valuation(con, days):
    e = _gx()
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["day", "asset_id"]),
        e.ExpectColumnValuesToBeInSet(column="health_factor", value_set=[0, 1]),
        e.ExpectColumnValuesToBeBetween(column="fair_value", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="market_index", min_value=0, strict_min=True),
    ]


def _staker_rewards(con, days):
    e = _gx()
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["day", "account"]),
        e.ExpectColumnValuesToMatchRegex(column="account", regex=LOWER_ADDRESS),
        e.ExpectColumnValuesToBeBetween(column="reward_wei", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="twab", min_value=0),
    ]


def _rewards_roots(con, days):
    e = _gx()
    return [
        e.ExpectTableRowCountToEqual(value=days),
        e.ExpectColumnValuesToMatchRegex(column="root", regex=r"^0x[0-9a-f]{64}$"),
        e.ExpectColumnValuesToBeBetween(column="dust_wei", min_value=0),
    ]


def _deal_stress(con, days):
    e = _gx()
    return [
        e.ExpectCompoundColumnsToBeUnique(column_list=["day", "deal_id", "shock_pct"]),
        e.ExpectColumnValuesToBeInSet(column="deal_id", value_set=_ids(con, "select deal_id from raw.deals")),
        e.ExpectColumnValuesToBeBetween(column="shock_pct", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="stressed_collateral_value", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="break_even_haircut", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="stressed_allowance", min_value=0),
    ]


SUITES: dict[str, Suite] = {s.table: s for s in (
    Suite("raw.providers", True, None, ("provider_id",), _providers),
    Suite("raw.deals", True, None, ("deal_id",), _deals),
    Suite("raw.assets", True, None, ("asset_id",), _assets),
    Suite("raw.price_index", True, None, ("model", "as_of"), _price_index),
    Suite("raw.offchain_reserves", True, None, ("as_of",), _offchain_reserves),
    Suite("raw.invoices", True, "delivery_date", ("source_file", "line", "invoice_id"), _invoices),
    Suite("raw.gpu_samples", True, "ts", ("day", "gpu_uuid", "node_id"), _gpu_samples,
          GPU_SAMPLES_SUMMARY, _samples_of_days),
    Suite("raw.robot_records", True, "ts", ("source_file", "line", "robot_id"), _robot_records),
    Suite("raw.chain_events", True, "block_timestamp", ("tx_hash", "log_index"), _chain_events),
    Suite("marts.fct_nav_daily", False, "day", ("day",), _nav),
    Suite("marts.fct_deal_position_daily", False, "day", ("day", "deal_id"), _deal_positions),
    Suite("marts.fct_gpu_operation_daily", False, "day", ("day", "asset_id"), _gpu_operation,
          GPU_OPERATION_ROWS),
    Suite("marts.fct_robot_operation_daily", False, "day", ("day", "asset_id"), _robot_operation),
    Suite("marts.fct_asset_valuation_daily", False, "day", ("day", "asset_id"), _valuation),
    Suite("marts.fct_staker_rewards_daily", False, "day", ("day", "account"), _staker_rewards),
    Suite("marts.fct_rewards_roots_daily", False, "day", ("day",), _rewards_roots),
    Suite("marts.fct_deal_stress_daily", False, "day", ("day", "deal_id", "shock_pct"),
          _deal_stress),
)}


# Rows validated per great-expectations pass: a window larger than this (a long backfill,
# a large fleet's telemetry) is validated in runs of whole days, so memory stays bounded
# whatever the window. One day is never split, so per-day expectations stay exact.
CHUNK_ROWS = 4_000_000


def _columns(suite: Suite, expectations: list[Any], available: list[str]) -> list[str]:
    """The columns the expectations and the failing-row keys read, in table order."""
    wanted = set(suite.key_columns)
    for e in expectations:
        for attr in ("column", "column_A", "column_B"):
            if getattr(e, attr, None):
                wanted.add(getattr(e, attr))
        wanted.update(getattr(e, "column_list", None) or [])
    return [c for c in available if c in wanted] or available[:1]


def _where(suite: Suite, start: date, end: date) -> tuple[str, list[Any]]:
    if suite.day_column is None:
        return "", []
    if suite.day_column in ("day", "delivery_date"):
        return f" where {suite.day_column} between ? and ?", [start, end]
    lo = datetime.combine(start, time.min, tzinfo=timezone.utc)
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=timezone.utc)
    return f" where {suite.day_column} >= ? and {suite.day_column} < ?", [lo, hi]


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pd.DataFrame:
    """Rows as a compact DataFrame: strings dictionary-encoded (categoricals: a GPU id
    repeated 1,440 times a day is stored once), decimals as floats (the suites test ranges
    and sets, never exact sums), read in record batches so only the encoded rows are held."""
    import pyarrow as pa
    import pyarrow.compute as pc

    reader = con.sql(sql, params=params).to_arrow_reader(1_000_000)
    batches = []
    for batch in reader:
        columns = []
        for field, column in zip(batch.schema, batch.columns):
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                column = pc.dictionary_encode(column)
            elif pa.types.is_decimal(field.type):
                column = pc.cast(column, pa.float64())
            else:
                # a copy: a column kept as it came would pin the whole batch's buffers
                column = pa.concat_arrays([column])
            columns.append(column)
        batches.append(pa.RecordBatch.from_arrays(columns, names=batch.schema.names))
    table = pa.Table.from_batches(batches, schema=None if batches else reader.schema)
    table = table.unify_dictionaries()
    del batches
    return table.to_pandas()


def _source(con: duckdb.DuckDBPyConnection, suite: Suite, start: date, end: date
            ) -> tuple[str, list[Any]]:
    """The suite's source_sql for days start..end (inclusive), and its parameters."""
    where, params = _where(suite, start, end)
    table = suite.relation(con, start, end) if suite.relation else suite.table
    return suite.source_sql.format(table=table, where=where), params


def window_rows(con: duckdb.DuckDBPyConnection, suite: Suite, start: date, end: date,
                columns: list[str] | None = None) -> pd.DataFrame:
    """The suite's rows for days start..end (inclusive); registry tables whole; for a suite
    with a source_sql, the rows it selects."""
    select = ", ".join(columns) if columns else "*"
    if suite.source_sql is not None:
        sql, params = _source(con, suite, start, end)
        return _frame(con, f"select {select} from ({sql})", params)
    where, params = _where(suite, start, end)
    return _frame(con, f"select {select} from {suite.table}{where}", params)


def _day_chunks(con: duckdb.DuckDBPyConnection, suite: Suite, start: date,
                end: date) -> list[tuple[date, date]]:
    """Consecutive runs of whole days holding about CHUNK_ROWS rows each."""
    if suite.day_column is None:
        return [(start, end)]
    if suite.source_sql is not None:
        sql, params = _source(con, suite, start, end)
        sql = f"select day, count(*) from ({sql}) group by 1"
    else:
        where, params = _where(suite, start, end)
        day = suite.day_column if suite.day_column in ("day", "delivery_date") else \
            f"cast(timezone('UTC', {suite.day_column}) as date)"
        sql = f"select {day}, count(*) from {suite.table}{where} group by 1"
    counts = dict(con.execute(sql, params).fetchall())
    chunks: list[tuple[date, date]] = []
    first, rows, d = start, 0, start
    while d <= end:
        n = counts.get(d, 0)
        if rows and rows + n > CHUNK_ROWS:
            chunks.append((first, d - timedelta(days=1)))
            first, rows = d, 0
        rows += n
        d += timedelta(days=1)
    chunks.append((first, end))
    return chunks


def _merge(name: str, results: list[SuiteResult]) -> SuiteResult:
    """One result for a window validated in chunks: a failing expectation's counts add up,
    its samples and row keys are the first ones found."""
    from quality.gx_runner import ROW_KEYS, SAMPLE_SIZE, Failure

    if len(results) == 1:
        return results[0]
    merged: dict[tuple[str, str | None], Failure] = {}
    for result in results:
        for f in result.failures:
            key = (f.expectation, f.column)
            if key not in merged:
                merged[key] = f
                continue
            m = merged[key]
            merged[key] = Failure(m.expectation, m.column,
                                  m.unexpected_count + f.unexpected_count,
                                  (m.sample_values + f.sample_values)[:SAMPLE_SIZE],
                                  (m.rows + f.rows)[:ROW_KEYS])
    return SuiteResult(name=name, rows=sum(r.rows for r in results),
                       evaluated=max(r.evaluated for r in results),
                       failures=tuple(merged.values()))


def validate_table(con: duckdb.DuckDBPyConnection, table: str, start: date, end: date) -> SuiteResult:
    """Run the suite of `table` (e.g. 'raw.deals', 'marts.fct_nav_daily') on a window."""
    suite = SUITES[table]
    if suite.source_sql is None:
        return _validate(con, suite, table.replace(".", "_"), start, end)
    # a summary: computed once over the window into a table of the connection's own, then
    # validated in runs of whole days like a mart
    summary = f"temp.main.quality_{table.replace('.', '_')}"
    sql, params = _source(con, suite, start, end)
    with _memory_limit(con, SUMMARY_MEMORY_LIMIT):
        con.execute(f"create or replace temp table {summary} as {sql}", params)
    try:
        return _validate(con, replace(suite, table=summary, day_column="day", source_sql=None),
                         table.replace(".", "_"), start, end)
    finally:
        con.execute(f"drop table if exists {summary}")


# DuckDB's memory while it computes a summary; it spills to disk beyond. The samples'
# summary finds repeated (source_file, line) pairs in a hash table of every sample of the
# window: about 900 MB for a day of 10,000 GPUs left to the warehouse's own limit, 250 MB
# under this one, in the same 3 to 4 s. A larger fleet spills more instead of growing.
SUMMARY_MEMORY_LIMIT = "256MB"


@contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """DuckDB's memory limit within the block, then the warehouse's own (aidnav.config)."""
    con.execute("set memory_limit = ?", [limit])
    try:
        yield
    finally:
        con.execute("set memory_limit = ?", [load_settings().duckdb_memory_limit])


def _validate(con: duckdb.DuckDBPyConnection, suite: Suite, name: str, start: date,
              end: date) -> SuiteResult:
    available = [r[0] for r in con.execute(f"describe {suite.table}").fetchall()]
    results = []
    for lo, hi in _day_chunks(con, suite, start, end):
        expectations = suite.expectations(con, (hi - lo).days + 1)
        df = window_rows(con, suite, lo, hi, _columns(suite, expectations, available))
        results.append(run_suite(name, df, expectations, list(suite.key_columns)))
        large = int(df.memory_usage(index=True, deep=False).sum()) >= RELEASE_FRAME_BYTES
        del df
        if large:
            _release_memory()
    return _merge(name, results)


# A validated frame at least this large is handed back to the system at once. A full
# collection costs about 0.2 s with GX loaded (more in the job's process, which also holds
# Dagster), which a daily run of 17 small suites would pay 17 times for a few megabytes.
RELEASE_FRAME_BYTES = 64 * 2**20


def _release_memory() -> None:
    """Hand a validated chunk's memory back to the system: Arrow's pool keeps freed blocks
    otherwise (and a collection frees what GX may have left in reference cycles), and the
    job's process would hold a large day's frame through dbt."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
