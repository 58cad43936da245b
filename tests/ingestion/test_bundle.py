from __future__ import annotations

import json
from datetime import date

import pytest

from ingestion.chain.bundle import BundleError, export_chain_events_jsonl, load_chain_events_jsonl


def test_worked_example_bundle_round_trips(con, worked_example_input, tmp_path):
    src = worked_example_input / "chain_events.jsonl"
    stats = load_chain_events_jsonl(con, src)
    assert stats.rows_loaded == 35
    # upsert: loading again changes nothing
    load_chain_events_jsonl(con, src)
    assert con.execute("select count(*) from raw.chain_events").fetchall() == [(35,)]
    out = tmp_path / "out.jsonl"
    assert export_chain_events_jsonl(con, out, None, None) == 35
    original = [json.loads(x) for x in src.read_text().splitlines() if x.strip()]
    exported = [json.loads(x) for x in out.read_text().splitlines()]
    key = lambda e: (e["block_number"], e["log_index"])  # noqa: E731
    assert sorted(exported, key=key) == sorted(original, key=key)


def test_amounts_are_exact_and_blocks_recorded(con, worked_example_input):
    load_chain_events_jsonl(con, worked_example_input / "chain_events.jsonl")
    # 100,000 AID minted to Alice, 18 decimals: beyond any double's exact range
    v = con.execute("select arg_value from raw.chain_events where block_number = 20000001 "
                    "and log_index = 1").fetchall()[0][0]
    assert int(v) == 100_000 * 10**18
    n_blocks = len({json.loads(x)["block_number"] for x in
                    (worked_example_input / "chain_events.jsonl").read_text().splitlines() if x})
    assert con.execute("select count(*) from raw.chain_blocks").fetchall() == [(n_blocks,)]


def test_export_window_by_utc_day(con, worked_example_input, tmp_path):
    load_chain_events_jsonl(con, worked_example_input / "chain_events.jsonl")
    lines = (worked_example_input / "chain_events.jsonl").read_text().splitlines()
    src = [json.loads(x) for x in lines if x]
    want = sum(1 for e in src if "2026-02-10" <= e["block_timestamp"][:10] <= "2026-02-20")
    assert want > 0
    n = export_chain_events_jsonl(con, tmp_path / "w.jsonl", date(2026, 2, 10), date(2026, 2, 20))
    assert n == want


def test_malformed_event_names_line_and_field(con, tmp_path):
    ev = {"chain_id": 1, "block_number": 5, "block_hash": "0x" + "ab" * 32,
          "block_timestamp": "2026-01-25T00:00:12Z", "tx_hash": "0x" + "cd" * 32,
          "log_index": 0, "address": "0x" + "11" * 20, "event": "Transfer",
          "args": {"from": "0x" + "00" * 20, "to": "0x" + "22" * 20, "value": "1.5"}}
    p = tmp_path / "b.jsonl"
    p.write_text(json.dumps(dict(ev, args=dict(ev["args"], value="7"))) + "\n" + json.dumps(ev) + "\n")
    with pytest.raises(BundleError) as e:
        load_chain_events_jsonl(con, p)
    assert e.value.line == 2 and e.value.field == "args.value"
    assert con.execute("select count(*) from raw.chain_events").fetchall() == [(0,)]
