"""The raw schema of the warehouse: the contract between ingestion and the dbt project.

Ingestion writes only these tables; dbt reads them only through `source()` in its
staging models. Money and token amounts are DECIMAL, never DOUBLE: USD amounts as
DECIMAL(38,18), on-chain integer amounts (wei, USDC units) as DECIMAL(38,0).
Every statement is idempotent (`create ... if not exists`).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from aidnav.config import load_settings

RAW_DDL = """
create schema if not exists raw;

-- registry (replaced whole on every load; registry errors stop the run)
create table if not exists raw.providers (
    provider_id varchar primary key, name varchar, country varchar,
    nvidia_cloud_partner boolean, onboarded_date date);
create table if not exists raw.deals (
    deal_id varchar primary key, provider_id varchar, asset_class varchar, structure varchar,
    principal_usd decimal(38,18), funded_date date, maturity_date date,
    fixed_apr decimal(38,18), revenue_share_pct decimal(38,18), target_multiple decimal(38,18),
    tail_share_pct decimal(38,18), payment_lag_days integer, min_collateral_ratio decimal(38,18),
    provider_address varchar, collection_address varchar);
create table if not exists raw.assets (
    asset_id varchar primary key, deal_id varchar, asset_type varchar, model varchar,
    purchase_price_usd decimal(38,18), acquired_date date, useful_life_days integer,
    residual_pct decimal(38,18), node_id varchar, node_address varchar, site varchar);
create table if not exists raw.price_index (
    model varchar, as_of date, market_index decimal(38,18), primary key (model, as_of));
create table if not exists raw.offchain_reserves (
    as_of date primary key, amount_usd decimal(38,18), description varchar);
create table if not exists raw.addresses (
    chain_id bigint, role varchar, address varchar, label varchar);
-- every parameter of DATA_CONTRACTS.md, defaults filled in, values as text
create table if not exists raw.params (name varchar primary key, value varchar);

-- provider invoices: one row per (invoice_id, version); the first delivery of a version wins
create table if not exists raw.invoices (
    source_file varchar, line integer, delivery_provider_id varchar, delivery_date date,
    invoice_id varchar, version integer, provider_id varchar, deal_id varchar,
    customer_id varchar, issue_date date, due_date date, period_start date, period_end date,
    usage_hours decimal(38,18), amount_usd decimal(38,18), status varchar, paid_date date,
    payload_sha256 varchar, loaded_at timestamptz,
    primary key (invoice_id, version));

-- valid GPU samples (signature, signer, registration and plausibility checked), as
-- ingestion.nvml.ingest checks them, duplicates of (gpu_uuid, ts) kept. A warehouse the
-- telemetry lake feeds (ingestion.lake) replaces this table with a view of the lake's
-- deduplicated samples: the samples are in the lake, not here.
create table if not exists raw.gpu_samples (
    source_file varchar, line integer, batch_id varchar, node_id varchar, gpu_uuid varchar,
    ts timestamptz, gpu_util_pct double, mem_util_pct double, mem_used_mib double,
    power_w double, energy_mj decimal(38,6), temp_c double, sm_clock_mhz double,
    xid_errors integer, ecc_dbe_count integer, serial varchar, pci_bus_id varchar);
-- per GPU and UTC day, from the lake's samples of that day (METHODOLOGY.md section 1):
-- valid samples, utilisation sum, energy counted within the day, first and last reading;
-- node_id is the node the GPU is registered to (the lake partition)
create table if not exists raw.gpu_daily (
    day date, node_id varchar, asset_id varchar, valid_samples integer,
    util_sum decimal(38,6), energy_in_day_mj decimal(38,6), first_energy_mj decimal(38,6),
    last_energy_mj decimal(38,6), primary key (day, asset_id));

-- valid robot state records; counters are lifetime totals
create table if not exists raw.robot_records (
    source_file varchar, line integer, fleet_id varchar, robot_id varchar, ts timestamptz,
    seq bigint, mode varchar, operating_s decimal(38,6), cleaning_s decimal(38,6),
    area_cleaned_m2 decimal(38,6), errors_json varchar);

-- decoded chain events; amounts are exact integers in token units
create table if not exists raw.chain_events (
    chain_id bigint, block_number bigint, block_hash varchar, block_timestamp timestamptz,
    tx_hash varchar, log_index integer, address varchar, event varchar,
    topics varchar, data varchar,
    arg_from varchar, arg_to varchar, arg_value decimal(38,0),
    arg_sender varchar, arg_owner varchar, arg_receiver varchar,
    arg_assets decimal(38,0), arg_shares decimal(38,0),
    primary key (chain_id, tx_hash, log_index));
-- block headers seen, for reorg detection and "last block of day D"
create table if not exists raw.chain_blocks (
    chain_id bigint, block_number bigint, block_hash varchar, block_timestamp timestamptz,
    primary key (chain_id, block_number));
create table if not exists raw.chain_checkpoints (
    chain_id bigint primary key, last_block bigint, updated_at timestamptz);
-- contract calls read at a past block by the reconciliations, kept for when the chain no
-- longer serves that block's state (a restarted anvil, a node that is not an archive)
create table if not exists raw.chain_state_reads (
    chain_id bigint, block_number bigint, block_hash varchar, contract varchar,
    call varchar, value decimal(38,0), read_at timestamptz,
    primary key (chain_id, block_number, block_hash, contract, call));

-- ledger of landing files already read: the same bytes again change nothing
create table if not exists raw.ingested_files (
    source varchar, file varchar, sha256 varchar, rows_loaded integer,
    rows_quarantined integer, loaded_at timestamptz, primary key (source, file));

-- the size and modification time a ledgered file had when a run last read it: a file listed
-- with the same two is not read and hashed again (GPU telemetry, ingestion/lake/engine.py)
create table if not exists raw.ingested_file_stats (
    source varchar, file varchar, size_bytes bigint, modified_at double,
    primary key (source, file));

-- every rejected record, with the reason and the offending field ('' for a whole record)
create table if not exists raw.quarantine (
    source varchar, file varchar, line integer, field varchar, reason varchar,
    record varchar, quarantined_at timestamptz);
"""


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the file, its folder and the raw schema if needed."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    # the same ceiling as dbt's (dbt_project/profiles.yml): DuckDB spills above it. A SET,
    # not a connection config, so other connections to the file need not repeat it.
    con.execute("set memory_limit = ?", [load_settings().duckdb_memory_limit])
    if not read_only:
        con.execute(RAW_DDL)
    return con


class WarehouseBusy(RuntimeError):
    """Another run kept the warehouse for longer than the wait allowed."""


def run_lock_path(warehouse: Path | str) -> Path:
    return Path(f"{warehouse}.run-lock")


def acquire_run_lock(warehouse: Path | str, holder: str, timeout_s: float,
                     on_wait: Callable[[str], None] | None = None,
                     poll_s: float = 0.5) -> int:
    """Take the warehouse for one run: an exclusive lock on `<warehouse>.run-lock`, so that
    runs that write the warehouse (the schedule, a backfill, `aidnav run`, a sensor's
    re-run) follow one another instead of failing on DuckDB's file lock. Waits up to
    `timeout_s`, calling `on_wait` once with the holder's description; raises WarehouseBusy
    after that. The lock goes with its process, so a crashed run never leaves it behind.
    Returns the file descriptor to pass to `release_run_lock`."""
    path = run_lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            other = _lock_holder(path)
            if time.monotonic() >= deadline:
                os.close(fd)
                raise WarehouseBusy(
                    f"{path}: the warehouse is still taken by {other} after {timeout_s:.0f} s "
                    "(AIDNAV_WAREHOUSE_WAIT_S sets the wait)") from None
            if on_wait is not None and not told:
                on_wait(other)
                told = True
            time.sleep(poll_s)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, {holder}, since "
                  f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}".encode(), 0)
    return fd


def release_run_lock(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return text or "another run"
