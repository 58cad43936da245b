"""The daily report names the robot fleets whose files were accepted unsigned (no key
registered for the fleet); a fleet with a registered key is not listed."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb

from publishing.daily_report import render_reports

DAY = date(2026, 2, 20)
NOTE = "<h2>Unsigned robot deliveries</h2>"


def test_the_unsigned_fleet_is_named_and_a_fleet_with_a_key_is_not(example_warehouse,
                                                                    tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(example_warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        # the worked example's three robots of fleet-kl-01 have no node_address; on
        # 2026-02-20 it delivered robots-2026-02-20.jsonl: three robots reporting at 00:00,
        # 08:00 and 16:00
        page = render_reports(con, tmp_path / "unsigned", [DAY])["pages"][0].read_text()
        assert NOTE in page
        assert "fleet-kl-01 (9 records in 1 file)" in page
        con.execute("update raw.assets set node_address = "
                    "'0x00000000000000000000000000000000000000f1' where node_id = 'fleet-kl-01'")
        page = render_reports(con, tmp_path / "keyed", [DAY])["pages"][0].read_text()
        assert NOTE not in page and "fleet-kl-01" not in page
    finally:
        con.close()
