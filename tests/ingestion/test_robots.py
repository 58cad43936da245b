from __future__ import annotations

import json
from decimal import Decimal

from ingestion.robots.reader import ingest_robot_telemetry
from tests.ingestion.ingestion_fixtures import rec


def test_bad_records_quarantined_good_ones_load(con, registry, landing):
    d = landing / "robot_telemetry" / "2026-02-01" / "fleet-1"
    d.mkdir(parents=True)
    lines = [
        rec(),                                                                 # 1 good
        rec(robot="R-9"),                                                      # 2 unknown
        rec(ts="2026-02-01T00:00:00"),                                         # 3 no offset
        rec(counters={"operating_s": 1, "cleaning_s": 1}),                     # 4 missing
        rec(counters={"operating_s": "x", "cleaning_s": 1, "area_cleaned_m2": 1}),  # 5 type
        rec(counters={"operating_s": 1, "cleaning_s": -1, "area_cleaned_m2": 1}),   # 6 neg
        rec()[:30],                                                            # 7 truncated
        rec(ts="2026-02-01T08:00:00Z", mode="EMERGENCY", errors=[]),           # 8 good
    ]
    (d / "r.jsonl").write_text("\n".join(lines) + "\n")
    stats = ingest_robot_telemetry(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 6)
    q = con.execute("select line, field, reason from raw.quarantine order by line").fetchall()
    assert [(line, f) for line, f, _ in q] == [
        (2, "robot_id"), (3, "ts"), (4, "counters.area_cleaned_m2"),
        (5, "counters.operating_s"), (6, "counters.cleaning_s"), (7, "")]
    assert "unknown asset R-9" in q[0][2]
    rows = con.execute("select line, fleet_id, mode, operating_s, area_cleaned_m2, errors_json "
                       "from raw.robot_records order by line").fetchall()
    assert rows[0][:5] == (1, "fleet-1", "CLEANING", Decimal(100), Decimal("12.5"))
    assert json.loads(rows[0][5])[0]["level"] == "CRITICAL"
    assert rows[1][2] == "EMERGENCY" and rows[1][5] == "[]"
    again = ingest_robot_telemetry(con, landing, registry)
    assert (again.files_read, again.files_skipped) == (0, 1)
