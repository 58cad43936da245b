"""Optionally signed robot deliveries: a fleet with a registered key (its robots'
node_address) must sign each file, `<file>.jsonl.sig` as for GPU batches; a fleet without
one is accepted as before and flagged."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from eth_account import Account
from eth_utils import keccak

from ingestion.nvml.signature import sign_batch
from ingestion.registry import RegistryError, load_registry
from ingestion.robots.reader import ingest_robot_telemetry
from tests.ingestion.ingestion_fixtures import OTHER_KEY
from quality import flags
from tests.ingestion.ingestion_fixtures import rec

FLEET_KEY = keccak(text="aidnav-test-fleet-key")  # deterministic, test only
FLEET_ADDR = Account.from_key(FLEET_KEY).address.lower()
SIGNED = "fleet-2"
REL = f"robot_telemetry/2026-02-01/{SIGNED}/r.jsonl"


@pytest.fixture
def signed_registry(con, registry_dir):
    """The shared test registry plus two robots of fleet-2, whose key is FLEET_ADDR
    (R-1 of fleet-1 stays without a key)."""
    with (registry_dir / "assets.csv").open("a") as fh:
        fh.write(f"R-2,D-R,robot,PM-CR-3,20000,2025-07-01,1825,0.10,{SIGNED},{FLEET_ADDR},Y\n"
                 f"R-3,D-R,robot,PM-CR-3,20000,2025-07-01,1825,0.10,{SIGNED},{FLEET_ADDR},Y\n")
    return load_registry(con, registry_dir)


def robot_file(landing, lines, fleet=SIGNED, key=FLEET_KEY, name="r.jsonl"):
    d = landing / "robot_telemetry" / "2026-02-01" / fleet
    d.mkdir(parents=True, exist_ok=True)
    data = "".join(x + "\n" for x in lines).encode()
    (d / name).write_bytes(data)
    if key is not None:
        (d / (name + ".sig")).write_text(json.dumps(sign_batch(data, key)))
    return d / name


def two_records():
    return [rec(robot="R-2"), rec(robot="R-3", ts="2026-02-01T08:00:00Z")]


def q_rows(con):
    return con.execute("select file, line, field, reason from raw.quarantine "
                       "where source = 'robot_telemetry' order by file, line").fetchall()


def loaded(con):
    return con.execute("select robot_id, fleet_id, operating_s from raw.robot_records "
                       "order by robot_id").fetchall()


def ledgered(con):
    return [f for (f,) in con.execute("select file from raw.ingested_files where source = "
                                      "'robot_telemetry' order by file").fetchall()]


def test_a_signed_fleets_file_with_a_valid_sig_loads(con, signed_registry, landing):
    robot_file(landing, two_records())
    stats = ingest_robot_telemetry(con, landing, signed_registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 0)
    assert loaded(con) == [("R-2", SIGNED, Decimal(100)), ("R-3", SIGNED, Decimal(100))]
    assert ledgered(con) == [REL]
    assert flags.unsigned_robot_deliveries(con, date(2026, 2, 1), date(2026, 2, 1)) == []


def test_a_sig_by_another_key_quarantines_the_whole_file(con, signed_registry, landing):
    robot_file(landing, two_records(), key=OTHER_KEY)
    stats = ingest_robot_telemetry(con, landing, signed_registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 2)
    q = q_rows(con)
    assert [(f, line, field) for f, line, field, _ in q] == [(REL, 1, ""), (REL, 2, "")]
    other = Account.from_key(OTHER_KEY).address.lower()
    for *_, reason in q:
        assert reason.startswith(f"bad signature: recovers signer {other}")
        assert FLEET_ADDR in reason and SIGNED in reason
    assert ledgered(con) == [REL]  # a wrong signature is final, as for a GPU batch


def test_an_edited_byte_after_signing_quarantines_the_whole_file(con, signed_registry, landing):
    p = robot_file(landing, two_records())
    data = p.read_bytes()
    p.write_bytes(data.replace(b'"operating_s": 100', b'"operating_s": 900'))
    stats = ingest_robot_telemetry(con, landing, signed_registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 2)
    assert all(reason.startswith("sha256 mismatch") for *_, reason in q_rows(con))
    assert loaded(con) == []


def test_a_file_without_its_sig_waits_and_loads_when_the_sig_arrives(con, signed_registry,
                                                                      landing):
    p = robot_file(landing, two_records(), key=None)
    for _ in range(2):  # read again on each run, never twice in the quarantine
        stats = ingest_robot_telemetry(con, landing, signed_registry)
        assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (1, 0, 2)
        q = q_rows(con)
        assert [(f, line) for f, line, _, _ in q] == [(REL, 1), (REL, 2)]
        assert all("no .sig" in reason for *_, reason in q)
        assert ledgered(con) == []
    (p.parent / "r.jsonl.sig").write_text(json.dumps(sign_batch(p.read_bytes(), FLEET_KEY)))
    stats = ingest_robot_telemetry(con, landing, signed_registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 0)
    assert q_rows(con) == [] and len(loaded(con)) == 2 and ledgered(con) == [REL]
    again = ingest_robot_telemetry(con, landing, signed_registry)
    assert (again.files_read, again.files_skipped) == (0, 1)


def test_an_empty_file_without_its_sig_leaves_one_row(con, signed_registry, landing):
    robot_file(landing, [], key=None)
    ingest_robot_telemetry(con, landing, signed_registry)
    [(file, line, field, reason)] = q_rows(con)
    assert (file, line, field) == (REL, 0, "") and "no .sig" in reason


def test_a_signed_fleets_robot_in_an_unsigned_file_is_quarantined(con, signed_registry,
                                                                   landing):
    """Writing R-2's records in another fleet's folder (or an unregistered one) does not
    get around its fleet's key."""
    robot_file(landing, [rec(robot="R-2"), rec()], fleet="fleet-1", key=None)
    robot_file(landing, [rec(robot="R-3")], fleet="fleet-x", key=None)
    stats = ingest_robot_telemetry(con, landing, signed_registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 2)
    q = q_rows(con)
    assert [(f.split("/")[2], line, field) for f, line, field, _ in q] == [
        ("fleet-1", 1, "robot_id"), ("fleet-x", 1, "robot_id")]
    assert f"robot R-2 is registered to fleet {SIGNED} (node_address {FLEET_ADDR})" in q[0][3]
    assert q[0][3].endswith("not unsigned")
    assert loaded(con) == [("R-1", "fleet-1", Decimal(100))]


def test_an_unsigned_fleet_loads_as_before_and_is_flagged(con, signed_registry, landing):
    robot_file(landing, [rec(), rec(ts="2026-02-01T08:00:00Z")], fleet="fleet-1", key=None)
    robot_file(landing, [rec(ts="2026-02-02T08:00:00Z")], fleet="fleet-1", key=None,
               name="r2.jsonl")
    robot_file(landing, two_records())
    stats = ingest_robot_telemetry(con, landing, signed_registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (5, 0)
    # two files and three records of fleet-1 (no key); fleet-2 signed its file
    rows = flags.unsigned_robot_deliveries(con, date(2026, 2, 1), date(2026, 2, 2))
    assert rows == [{"fleet_id": "fleet-1", "files": 2, "records": 3,
                     "first_day": date(2026, 2, 1), "last_day": date(2026, 2, 2)}]
    assert flags.unsigned_robot_deliveries(con, date(2026, 2, 2), date(2026, 2, 2))[0]["records"] == 1
    assert flags.unsigned_robot_deliveries(con, date(2026, 2, 3), date(2026, 2, 9)) == []


def test_a_fleet_has_one_key_or_none(con, registry_dir):
    with (registry_dir / "assets.csv").open("a") as fh:
        fh.write(f"R-2,D-R,robot,PM-CR-3,20000,2025-07-01,1825,0.10,fleet-1,{FLEET_ADDR},Y\n")
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.file, e.value.line, e.value.field) == ("assets.csv", 5, "node_address")
    assert "node_address of fleet fleet-1 on line 4 (empty)" in str(e.value)


def test_a_robots_key_needs_its_fleet(con, registry_dir):
    with (registry_dir / "assets.csv").open("a") as fh:
        fh.write(f"R-2,D-R,robot,PM-CR-3,20000,2025-07-01,1825,0.10,,{FLEET_ADDR},Y\n")
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.line, e.value.field) == (5, "node_id")


def test_the_flag_is_a_warning_check_on_robot_records():
    import dagster as dg

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetCheckKey(dg.AssetKey(["raw", "robot_records"]), "unsigned_robot_deliveries")
    assert key in graph.asset_check_keys
    assert not graph.get_check_spec(key).blocking
