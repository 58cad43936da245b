"""Hostile deliveries beside the worked example, through ingestion and the real dbt build:
the build passes, the bad deliveries are quarantined and every mart equals that of the
same book without them."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.bounds import (ENERGY_MJ_MAX, GPU_NUMERIC, INVOICE_AMOUNT_USD_MAX,
                              INVOICE_USAGE_HOURS_MAX, ROBOT_COUNTERS)
from ingestion.nvml.signature import sign_batch
from tests.ingestion.ingestion_fixtures import OTHER_KEY, TEST_ADDR, TEST_KEY
from tests.fixture_paths import WORKED_EXAMPLE_INPUT

START, END = date(2026, 1, 25), date(2026, 3, 5)
DAY = "2026-02-08"
GPU_X = "GPU-00000000-0000-0000-0000-0000000000ff"
ROBOT = "PM-CR-000101"
FLEET = "fleet-kl-01"
MARTS = ("fct_gpu_operation_daily", "fct_robot_operation_daily", "fct_asset_valuation_daily",
         "fct_deal_position_daily", "fct_nav_daily", "fct_staker_rewards_daily",
         "fct_rewards_roots_daily")
INVOICE_HEADER = ("invoice_id,version,provider_id,deal_id,customer_id,issue_date,due_date,"
                  "period_start,period_end,usage_hours,amount_usd,status,paid_date\n")


def book(root: Path) -> Path:
    """The worked example with one more GPU (GPU_X on node-x, signed by the test key)."""
    inp = root / "input"
    shutil.copytree(WORKED_EXAMPLE_INPUT, inp)
    with open(inp / "registry" / "assets.csv", "a") as fh:
        fh.write(f"{GPU_X},D-GPU-FIX,gpu,H100-SXM5-80GB,26000,2025-12-01,1825,0.10,node-x,"
                 f"{TEST_ADDR},BKK-1\n")
    return inp


def gpu_sample(ts: str, **over) -> dict:
    s = {"ts": ts, "node_id": "node-x", "gpu_uuid": GPU_X, "gpu_util_pct": 50,
         "mem_util_pct": 40, "mem_used_mib": 1000, "power_w": 500, "energy_mj": 123456789,
         "temp_c": 60, "sm_clock_mhz": 1980, "xid_errors": 0, "ecc_dbe_count": 0,
         "serial": "1", "pci_bus_id": "00000000:18:00.0"}
    s.update(over)
    return s


def gpu_batch(landing: Path, name: str, lines: list[str], key=TEST_KEY, day=DAY) -> None:
    d = landing / "gpu_telemetry" / day / "node-x"
    d.mkdir(parents=True, exist_ok=True)
    data = "".join(x + "\n" for x in lines).encode()
    (d / f"{name}.jsonl").write_bytes(data)
    (d / f"{name}.jsonl.sig").write_text(json.dumps(sign_batch(data, key)))


def robot_record(ts: str, **counters) -> str:
    c = {"operating_s": 100, "cleaning_s": 50, "area_cleaned_m2": 12.5}
    c.update(counters)
    return ('{"robot_id": "%s", "ts": "%s", "seq": 1, "mode": "CLEANING", "counters": '
            '{"operating_s": %s, "cleaning_s": %s, "area_cleaned_m2": %s}, "errors": []}'
            % (ROBOT, ts, c["operating_s"], c["cleaning_s"], c["area_cleaned_m2"]))


def add_poison(landing: Path) -> list[str]:
    """The attacks, delivered on DAY; returns the files that must be quarantined."""
    gpu_batch(landing, "poison", [json.dumps(x) for x in (
        gpu_sample("2026-02-08T01:00:00Z", energy_mj=1e31),
        gpu_sample("2026-02-10T00:00:00Z"),
        gpu_sample("9999-12-31T00:00:00Z"))] + ['{"ts": "2026-02-08T02:00:00Z", '
                                               '"energy_mj": NaN}'])
    empty = landing / "gpu_telemetry" / DAY / "node-x" / "empty.jsonl"
    empty.write_bytes(b"")
    (landing / "gpu_telemetry" / DAY / "node-x" / "empty.jsonl.sig").write_text(
        json.dumps(sign_batch(b"", OTHER_KEY)))
    with open(landing / "gpu_telemetry" / DAY / "node-x" / "huge.jsonl", "wb") as fh:
        fh.truncate(200 << 20)
    robots = landing / "robot_telemetry" / DAY / FLEET
    os.symlink("/etc/passwd", robots / "passwd.jsonl")
    (robots / "poison.jsonl").write_text("\n".join([
        robot_record("2026-02-08T12:00:00Z", area_cleaned_m2=1e30),
        robot_record("9999-12-31T00:00:00Z")]) + "\n")
    inv = landing / "invoices" / "P-NEO2" / DAY
    inv.mkdir(parents=True, exist_ok=True)
    (inv / "poison.csv").write_text(INVOICE_HEADER +
        "X-1,1,P-NEO2,D-GPU-RS,C-9,2026-02-08,,2026-02-01,2026-02-07,10,"
        "1234567890123456789012345.00,issued,\n"
        "X-2,1,P-NEO2,D-GPU-RS,C-9,2026-02-08,,0001-01-01,9999-12-31,10,100,issued,\n")
    return [f"gpu_telemetry/{DAY}/node-x/poison.jsonl", f"gpu_telemetry/{DAY}/node-x/empty.jsonl",
            f"gpu_telemetry/{DAY}/node-x/huge.jsonl", f"invoices/P-NEO2/{DAY}/poison.csv",
            f"robot_telemetry/{DAY}/{FLEET}/passwd.jsonl",
            f"robot_telemetry/{DAY}/{FLEET}/poison.jsonl"]


def build(inp: Path, work: Path) -> Path:
    from modelling.replay import load_inputs, run_dbt

    warehouse = work / "warehouse.duckdb"
    load_inputs(warehouse, inp)
    run_dbt(warehouse, START, END, work)
    return warehouse


def marts(warehouse: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse))
    try:
        return {m: con.execute(f"select * from marts.{m} order by all").fetchall()
                for m in MARTS}
    finally:
        con.close()


def test_poison_deliveries_are_quarantined_and_every_mart_is_unchanged(tmp_path):
    clean = build(book(tmp_path / "clean"), tmp_path / "clean")
    inp = book(tmp_path / "poisoned")
    poisoned_files = add_poison(inp / "landing")
    poisoned = build(inp, tmp_path / "poisoned")
    want, got = marts(clean), marts(poisoned)
    assert all(want[m] for m in MARTS if m != "fct_staker_rewards_daily")
    for m in MARTS:
        assert got[m] == want[m], m
    con = duckdb.connect(str(poisoned))
    try:
        rows = con.execute("select file, line, field from raw.quarantine where file in "
                           "(select unnest(?)) order by file, line", [poisoned_files]).fetchall()
    finally:
        con.close()
    assert rows == [
        (f"gpu_telemetry/{DAY}/node-x/empty.jsonl", 0, ""),
        (f"gpu_telemetry/{DAY}/node-x/huge.jsonl", 0, ""),
        (f"gpu_telemetry/{DAY}/node-x/poison.jsonl", 1, "energy_mj"),
        (f"gpu_telemetry/{DAY}/node-x/poison.jsonl", 2, "ts"),
        (f"gpu_telemetry/{DAY}/node-x/poison.jsonl", 3, "ts"),
        (f"gpu_telemetry/{DAY}/node-x/poison.jsonl", 4, "gpu_uuid"),
        (f"invoices/P-NEO2/{DAY}/poison.csv", 2, "amount_usd"),
        (f"invoices/P-NEO2/{DAY}/poison.csv", 3, "period_end"),
        (f"robot_telemetry/{DAY}/{FLEET}/passwd.jsonl", 0, ""),
        (f"robot_telemetry/{DAY}/{FLEET}/poison.jsonl", 1, "counters.area_cleaned_m2"),
        (f"robot_telemetry/{DAY}/{FLEET}/poison.jsonl", 2, "ts")]


EXTREMES = ("0", "BOUND", "BOUND+1", "1e30", "1e400", "-0", "NaN")


def _value(v: str, bound) -> str:
    return {"BOUND": str(bound), "BOUND+1": str(bound + 1)}.get(v, v)


@pytest.mark.slow
def test_every_numeric_field_at_its_extremes_through_ingestion_and_the_build(tmp_path):
    """Each field of each source gets 0, its upper bound, the bound + 1, 1e30, 1e400, -0
    and NaN, one record each; by hand, 0, the bound and -0 load (temperature's range
    holds 0), the other four are quarantined; the dbt build passes."""
    inp = book(tmp_path)
    landing = inp / "landing"
    lines, minute = [], 0
    for field, (_, hi) in GPU_NUMERIC.items():
        for v in EXTREMES:
            minute += 1
            base = json.dumps(gpu_sample(f"2026-02-08T{minute // 60:02d}:{minute % 60:02d}:00Z"))
            lines.append(base.replace(f'"{field}": ', f'"{field}": {_value(v, hi)}, "_": ', 1))
    gpu_batch(landing, "extremes", lines)
    robot_lines, second = [], 0
    for field, (_, hi) in ROBOT_COUNTERS.items():
        for v in EXTREMES:
            second += 1
            robot_lines.append(robot_record(f"2026-02-08T13:00:{second:02d}Z",
                                            **{field: _value(v, hi)}))
    robots = landing / "robot_telemetry" / DAY / FLEET / "extremes.jsonl"
    robots.write_text("\n".join(robot_lines) + "\n")
    rows, n = [], 0
    for field, bound in (("usage_hours", INVOICE_USAGE_HOURS_MAX),
                         ("amount_usd", INVOICE_AMOUNT_USD_MAX)):
        for v in EXTREMES:
            n += 1
            usage, amount = ("10", "100")
            usage, amount = (_value(v, bound), amount) if field == "usage_hours" else \
                (usage, _value(v, bound))
            rows.append(f"E-{n},1,P-NEO2,D-GPU-RS,C-9,2026-02-08,,2026-02-01,2026-02-07,"
                        f"{usage},{amount},issued,\n")
    inv = landing / "invoices" / "P-NEO2" / DAY
    inv.mkdir(parents=True, exist_ok=True)
    (inv / "extremes.csv").write_text(INVOICE_HEADER + "".join(rows))

    warehouse = build(inp, tmp_path)
    con = duckdb.connect(str(warehouse))
    try:
        per_file = dict(con.execute(
            "select file, count(*) from raw.quarantine where file like '%extremes%' "
            "group by file").fetchall())
        energy = con.execute("select max(energy_mj) from raw.gpu_samples where gpu_uuid = ?",
                             [GPU_X]).fetchone()[0]
        kwh = con.execute("select energy_kwh from marts.fct_gpu_operation_daily "
                          "where asset_id = ? and day = ?", [GPU_X, date(2026, 2, 8)]
                          ).fetchone()[0]
    finally:
        con.close()
    # 9 GPU fields, 3 robot counters, 2 invoice numbers: 4 of 7 values quarantined each
    assert per_file == {f"gpu_telemetry/{DAY}/node-x/extremes.jsonl": 9 * 4,
                        f"robot_telemetry/{DAY}/{FLEET}/extremes.jsonl": 3 * 4,
                        f"invoices/P-NEO2/{DAY}/extremes.csv": 2 * 4}
    assert energy == ENERGY_MJ_MAX
    # GPU_X's loaded samples of the day, a minute apart, in ts order, read 123456789 mJ
    # except the energy field's "0" (0), "BOUND" (1e14) and "-0" (0). The rises: 0 -> 1e14
    # in 60 s is past what 2,000 W adds (1.2e8 mJ a minute), a jumped counter: 0. Then
    # "-0" -> 123456789 over 120 s (the NaN sample between is quarantined), under the
    # 2.4e8 mJ 2,000 W would add: counted. 123456789 mJ / 3.6e9 = 0.0342935525 kWh
    assert kwh == Decimal("0.0342935525")


def test_an_apy_beyond_the_mart_type_is_null_not_a_failed_build():
    """A share price 10 times that of a week before: 10^(365/7) - 1 is about 1e52, beyond
    DECIMAL(38,18); a 2 times jump, 2^(365/7) - 1 = 4.98e15, is kept."""
    from ledger.nav import apy

    assert apy(Decimal(10), Decimal(1), 7) is None
    assert 4.97e15 < apy(Decimal(2), Decimal(1), 7) < 4.99e15


def test_a_counter_that_jumps_twice_in_a_day_counts_nothing_for_its_jumps(tmp_path):
    # every reading within the bound, but 0 -> ~1e14 -> 0 -> ~1e14 in one day: the rises
    # are 1e14 mJ in an hour (27.8 GW), not energy; the last hour at 500 W is. The day's
    # energy is that hour alone: 500 W x 3,600 s = 1.8e9 mJ = 0.5 kWh.
    inp = book(tmp_path)
    top = ENERGY_MJ_MAX - 1_800_000_000
    readings = (0, top, 0, top, ENERGY_MJ_MAX)
    gpu_batch(inp / "landing", "jumps", [json.dumps(gpu_sample(
        f"{DAY}T0{h}:00:00Z", energy_mj=int(e))) for h, e in enumerate(readings)])
    warehouse = build(inp, tmp_path)
    con = duckdb.connect(str(warehouse))
    try:
        kwh = con.execute("select energy_kwh from marts.fct_gpu_operation_daily "
                          "where asset_id = ? and day = ?", [GPU_X, DAY]).fetchone()[0]
    finally:
        con.close()
    assert kwh == Decimal("0.5")
