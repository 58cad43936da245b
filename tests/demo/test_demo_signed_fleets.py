"""The demo's robot fleets have registered keys and sign their files: the daily run loads
every robot record, none is quarantined, and no fleet is flagged unsigned."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct

from demo import generate_offchain
from ingestion.registry import load_registry
from ingestion.robots.reader import ingest_robot_telemetry
from ingestion.warehouse import connect
from quality import flags

END_DAY = date(2026, 3, 5)


def test_every_robot_file_is_signed_by_its_fleets_registered_key(tmp_path: Path) -> None:
    generate_offchain(tmp_path, END_DAY, days=3, progress=False, scale=0.05)
    with (tmp_path / "registry" / "assets.csv").open(newline="") as fh:
        robots = [r for r in csv.DictReader(fh) if r["asset_type"] == "robot"]
    fleet_key = {r["node_id"]: r["node_address"] for r in robots}
    assert len(fleet_key) == 2 and all(fleet_key.values())
    files = sorted((tmp_path / "landing" / "robot_telemetry").rglob("*.jsonl"))
    assert len(files) == 3 * 2
    records = 0
    for f in files:
        data = f.read_bytes()
        records += data.count(b"\n")
        sig = json.loads(Path(str(f) + ".sig").read_bytes())
        digest = hashlib.sha256(data).digest()
        assert sig["sha256"] == digest.hex()
        signer = Account.recover_message(encode_defunct(primitive=digest),
                                         signature=sig["signature"]).lower()
        assert signer == sig["signer"] == fleet_key[f.parent.name]

    con = connect(":memory:")
    try:
        registry = load_registry(con, tmp_path / "registry")
        stats = ingest_robot_telemetry(con, tmp_path / "landing", registry)
        assert (stats.rows_loaded, stats.rows_quarantined) == (records, 0)
        assert flags.unsigned_robot_deliveries(con, date(2026, 3, 1), END_DAY) == []
    finally:
        con.close()
