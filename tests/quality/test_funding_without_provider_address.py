"""A deal registered without a provider_address (the contract lets it be empty) is still
checked for its funding: a treasury transfer of exactly its principal on its funded date
to an address outside the reserves."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from ingestion.warehouse import connect
from quality.reconcile import reconcile_funding

D = date(2026, 3, 2)
TREASURY = "0x" + "11" * 20
SOMEONE = "0x" + "22" * 20
USDC = "0x" + "33" * 20
COLLECTION = "0x" + "44" * 20


@pytest.fixture
def con(tmp_path: Path):
    c = connect(tmp_path / "w.duckdb")
    c.execute("insert into raw.providers values ('P1', 'Prov', 'TH', true, '2026-01-01')")
    c.execute(f"""insert into raw.deals values
        ('D1', 'P1', 'gpu', 'fixed_rate', 1000, '2026-03-01', '2027-03-01', 0.1, null, null,
         null, 15, 1.3, null, '{COLLECTION}')""")
    c.execute(f"insert into raw.addresses values (1, 'treasury', '{TREASURY}', 't'), "
              f"(1, 'usdc', '{USDC}', 'u'), (1, 'collection', '{COLLECTION}', 'c')")
    yield c
    c.close()


def _transfer(con, value: int, to: str) -> None:
    ts = "2026-03-01 10:00:00+00"
    con.execute(
        "insert into raw.chain_events (chain_id, block_number, block_timestamp, tx_hash, log_index,"
        " address, event, arg_from, arg_to, arg_value) values (1, 5, ?, ?, 0, ?, 'Transfer', ?, ?, ?)",
        [ts, "0x" + hashlib.sha256(f"{to}{value}".encode()).hexdigest(), USDC, TREASURY, to, value])


def test_a_deal_without_provider_address_is_funded_by_the_exact_principal(con):
    assert reconcile_funding(con, 1, D) == [
        "deal D1: no USDC transfer of 1000 from the treasury to its provider on 2026-03-01 "
        "(transfers seen that day: none)"]
    _transfer(con, 1_000_000_000, COLLECTION)  # moving cash between reserves is no funding
    assert len(reconcile_funding(con, 1, D)) == 1
    _transfer(con, 1_000_000_000, SOMEONE)
    assert reconcile_funding(con, 1, D) == []
