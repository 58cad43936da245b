"""Chain events from an RPC node: ERC-20 `Transfer` of usdc, aid, said and gaib and the
ERC-4626 `Deposit`/`Withdraw` of said (DATA_CONTRACTS.md, "Chain events").

Only blocks at least `confirmations` deep are read. Logs are fetched in block ranges that
halve when the node refuses (error, too many results) and grow back after a success.
Every block that holds an event, and the checkpoint block, is kept in raw.chain_blocks;
on each run the stored hashes are re-checked from the top, and on a mismatch everything
above the fork point is deleted and read again. Amounts are exact integers.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

import duckdb
from eth_utils import keccak

from ingestion.chain.bundle import upsert_events
from ingestion.registry import Registry
from ingestion.stats import IngestStats

SOURCE = "chain_events"
TOKEN_ROLES = ("usdc", "aid", "said", "gaib")
TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
DEPOSIT = "0x" + keccak(text="Deposit(address,address,uint256,uint256)").hex()
WITHDRAW = "0x" + keccak(text="Withdraw(address,address,address,uint256,uint256)").hex()
MIN_CHUNK, START_CHUNK, MAX_CHUNK = 1, 2_000, 50_000
MAX_AMOUNT = 10**38 - 1


class ChainIngestError(RuntimeError):
    pass


def _hex(b: Any) -> str:
    if isinstance(b, str):
        return b.lower() if b.startswith("0x") else "0x" + b.lower()
    return "0x" + bytes(b).hex()


def _topic_address(t: Any) -> str:
    return "0x" + _hex(t)[-40:]


def _words(data: Any) -> list[int]:
    raw = bytes.fromhex(_hex(data)[2:])
    return [int.from_bytes(raw[i:i + 32], "big") for i in range(0, len(raw) - len(raw) % 32, 32)]


def decode_log(log: dict[str, Any], said: str | None) -> dict[str, Any] | None:
    """The event name and decoded arguments of a log, or None when it is not one of the
    events the pipeline reads (e.g. an ERC-721 Transfer with an indexed token id)."""
    topics = [_hex(t) for t in log["topics"]]
    if not topics:
        return None
    words = _words(log["data"])
    address = _hex(log["address"])
    if topics[0] == TRANSFER and len(topics) == 3 and len(words) == 1:
        return {"event": "Transfer", "from": _topic_address(topics[1]),
                "to": _topic_address(topics[2]), "value": words[0]}
    if address != said:
        return None
    if topics[0] == DEPOSIT and len(topics) == 3 and len(words) == 2:
        return {"event": "Deposit", "sender": _topic_address(topics[1]),
                "owner": _topic_address(topics[2]), "assets": words[0], "shares": words[1]}
    if topics[0] == WITHDRAW and len(topics) == 4 and len(words) == 2:
        return {"event": "Withdraw", "sender": _topic_address(topics[1]),
                "receiver": _topic_address(topics[2]), "owner": _topic_address(topics[3]),
                "assets": words[0], "shares": words[1]}
    return None


class _Headers:
    """Block hash and timestamp per block number, fetched once."""

    def __init__(self, w3):
        self.w3, self.cache = w3, {}

    def get(self, number: int) -> tuple[str, datetime]:
        if number not in self.cache:
            b = self.w3.eth.get_block(number)
            self.cache[number] = (_hex(b["hash"]),
                                  datetime.fromtimestamp(int(b["timestamp"]), tz=timezone.utc))
        return self.cache[number]


def _find_fork_point(con: duckdb.DuckDBPyConnection, chain_id: int, headers: _Headers,
                     head: int) -> int | None:
    """None when every stored block still has its hash on chain; otherwise the highest
    stored block number whose hash still matches (-1 when none does)."""
    stored = con.execute("select block_number, block_hash from raw.chain_blocks "
                         "where chain_id = ? order by block_number desc", [chain_id]).fetchall()
    mismatch = False
    for number, block_hash in stored:
        if number <= head and headers.get(number)[0] == block_hash:
            return number if mismatch else None
        mismatch = True
    return -1 if mismatch else None


def _rewind(con: duckdb.DuckDBPyConnection, chain_id: int, fork: int) -> None:
    for table in ("chain_events", "chain_blocks"):
        con.execute(f"delete from raw.{table} where chain_id = ? and block_number > ?",
                    [chain_id, fork]).fetchall()
    con.execute("update raw.chain_checkpoints set last_block = least(last_block, ?), "
                "updated_at = now() where chain_id = ?", [fork, chain_id]).fetchall()


def _get_logs(w3, addresses: list[str], start: int, end: int, chunk: int,
              fetch_log: list[tuple[int, int, bool]]) -> list[dict[str, Any]]:
    """All logs of `addresses` with our topics in [start, end], in adaptive chunks."""
    from web3 import Web3

    checksummed = [Web3.to_checksum_address(a) for a in addresses]
    logs: list[dict[str, Any]] = []
    lo = start
    while lo <= end:
        hi = min(end, lo + chunk - 1)
        try:
            got = w3.eth.get_logs({"fromBlock": lo, "toBlock": hi, "address": checksummed,
                                   "topics": [[TRANSFER, DEPOSIT, WITHDRAW]]})
        except Exception as e:  # provider errors: range too large, too many results, timeout
            fetch_log.append((lo, hi, False))
            if chunk <= MIN_CHUNK:
                raise ChainIngestError(f"eth_getLogs failed for block {lo}: {e}") from e
            chunk = max(MIN_CHUNK, chunk // 2)
            continue
        fetch_log.append((lo, hi, True))
        logs.extend(dict(x) for x in got)
        lo = hi + 1
        chunk = min(MAX_CHUNK, chunk * 2)
    return logs


def ingest_chain_events(con: duckdb.DuckDBPyConnection, w3, registry: Registry,
                        confirmations: int | None = None,
                        chunk_blocks: int = START_CHUNK) -> IngestStats:
    """Read the new confirmed events of the registry's token addresses from `w3` into
    raw.chain_events (upsert on chain_id, tx_hash, log_index), after re-checking the stored
    block hashes and rewinding past a reorganisation."""
    t0 = time.perf_counter()
    chain_id = int(w3.eth.chain_id)
    depth = registry.params.confirmations if confirmations is None else confirmations
    addresses = sorted({a for role in TOKEN_ROLES
                        for a in registry.addresses_by_role(role, chain_id)})
    if not addresses:
        raise ChainIngestError(f"addresses.csv has no {'/'.join(TOKEN_ROLES)} address for "
                               f"chain_id {chain_id}: expected at least one token to read")
    said = next(iter(registry.addresses_by_role("said", chain_id)), None)
    head = int(w3.eth.block_number)
    safe = head - depth
    headers = _Headers(w3)

    con.execute("begin transaction")
    try:
        fork = _find_fork_point(con, chain_id, headers, head)
        if fork is not None:
            _rewind(con, chain_id, fork)
        row = con.execute("select last_block from raw.chain_checkpoints where chain_id = ?",
                          [chain_id]).fetchall()
        start = max((row[0][0] + 1) if row else 0, registry.params.start_block)
        if start > safe:
            con.execute("commit")
            return IngestStats(SOURCE, 0, 0, 0, 0, time.perf_counter() - t0)
        fetches: list[tuple[int, int, bool]] = []
        logs = _get_logs(w3, addresses, start, safe, chunk_blocks, fetches)
        rows = []
        for log in logs:
            if log.get("removed"):
                continue
            decoded = decode_log(log, said)
            if decoded is None:
                continue
            number = int(log["blockNumber"])
            for k in ("value", "assets", "shares"):
                if decoded.get(k) is not None and decoded[k] > MAX_AMOUNT:
                    raise ChainIngestError(
                        f"{decoded['event']}.{k} = {decoded[k]} in tx "
                        f"{_hex(log['transactionHash'])} (block {number}): expected an amount "
                        "below 10^38, the range of raw.chain_events' DECIMAL(38,0)")
            block_hash, ts = headers.get(number)
            if _hex(log["blockHash"]) != block_hash:
                raise ChainIngestError(f"block {number} changed while reading (log hash "
                                       f"{_hex(log['blockHash'])}, header {block_hash}): "
                                       "expected a stable chain below the confirmation depth")
            rows.append((chain_id, number, block_hash, ts, _hex(log["transactionHash"]),
                         int(log["logIndex"]), _hex(log["address"]), decoded["event"],
                         json.dumps([_hex(t) for t in log["topics"]]), _hex(log["data"]),
                         decoded.get("from"), decoded.get("to"), decoded.get("value"),
                         decoded.get("sender"), decoded.get("owner"), decoded.get("receiver"),
                         decoded.get("assets"), decoded.get("shares")))
        upsert_events(con, rows)
        safe_hash, safe_ts = headers.get(safe)
        con.execute("insert or replace into raw.chain_blocks values (?, ?, ?, ?)",
                    [chain_id, safe, safe_hash, safe_ts]).fetchall()
        con.execute("insert or replace into raw.chain_checkpoints values (?, ?, now())",
                    [chain_id, safe]).fetchall()
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return IngestStats(SOURCE, len(fetches), 0, len(rows), 0, time.perf_counter() - t0)
