from __future__ import annotations

import json
from decimal import Decimal

from ingestion.invoices.reader import ingest_invoices

HEADER = ("invoice_id,version,provider_id,deal_id,customer_id,issue_date,due_date,"
          "period_start,period_end,usage_hours,amount_usd,status,paid_date")
GOOD = "INV-1,1,P-A,D-A,C-1,2026-02-01,2026-03-01,2026-02-01,2026-02-28,100,1250.50,issued,"


def _write(landing, provider, day, name, content: bytes | str):
    d = landing / "invoices" / provider / day
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content.encode() if isinstance(content, str) else content)


def _quarantine(con):
    return con.execute("select file, line, field, reason from raw.quarantine "
                       "where source = 'invoices' order by file, line").fetchall()


def test_each_bad_csv_row_is_quarantined_and_good_rows_load(con, registry, landing):
    rows = [
        GOOD,                                                                   # 2 good
        "INV-2,1,P-A,D-A,,2026-02-01,,2026-02-01,2026-02-28,10,5,issued,",      # 3 no customer
        "INV-3,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,abc,issued,",  # 4 amount
        "INV-4,1,P-A,D-A,C-1,2026-02-30,,2026-02-01,2026-02-28,10,5,issued,",   # 5 bad date
        "INV-5,1,P-A,D-A,C-1,2026-02-01,,2026-02-10,2026-02-01,10,5,issued,",   # 6 end<start
        "INV-6,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,5,sent,",     # 7 status
        "INV-7,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,-10,5,issued,",  # 8 neg usage
        "INV-8,1,P-A,D-Z,C-1,2026-02-01,,2026-02-01,2026-02-28,10,5,issued,",   # 9 unknown deal
        "INV-9,1,P-A,D-B,C-1,2026-02-01,,2026-02-01,2026-02-28,10,5,issued,",   # 10 deal of P-B
        "INV-10,1,P-B,D-B,C-1,2026-02-01,,2026-02-01,2026-02-28,10,5,issued,",  # 11 folder P-A
        "INV-11,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,10,5,issued,,x",  # 12 extra field
        "INV-12,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,ten,5,issued,",  # 13 hours
        "INV-13,1,P-A,D-A,C-1,2026-02-01,,2026-02-01,2026-02-28,-10,-5,issued,",  # 14 credit ok
    ]
    _write(landing, "P-A", "2026-02-02", "inv.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    stats = ingest_invoices(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 11)
    got = [(line, field) for _, line, field, _ in _quarantine(con)]
    assert got == [(3, "customer_id"), (4, "amount_usd"), (5, "issue_date"), (6, "period_end"),
                   (7, "status"), (8, "usage_hours"), (9, "deal_id"), (10, "deal_id"),
                   (11, "provider_id"), (12, ""), (13, "usage_hours")]
    reasons = {line: reason for _, line, _, reason in _quarantine(con)}
    assert "expected a decimal number" in reasons[4]
    assert "expected a real date" in reasons[5]
    assert "issued|paid|void" in reasons[7]
    assert "expected 'P-A'" in reasons[11]
    loaded = con.execute("select invoice_id, amount_usd, usage_hours, delivery_provider_id, "
                         "delivery_date::varchar, line from raw.invoices order by 1").fetchall()
    assert loaded == [("INV-1", Decimal("1250.50"), Decimal(100), "P-A", "2026-02-02", 2),
                      ("INV-13", Decimal(-5), Decimal(-10), "P-A", "2026-02-02", 14)]


def test_missing_and_extra_columns_in_header(con, registry, landing):
    _write(landing, "P-A", "2026-02-02", "a.csv", HEADER.replace(",customer_id", "") + "\n"
           + GOOD.replace(",C-1", "") + "\n")
    _write(landing, "P-A", "2026-02-03", "b.csv", HEADER + ",note\n" + GOOD + ",hello\n")
    stats = ingest_invoices(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (0, 2)
    q = _quarantine(con)
    assert q[0][2] == "customer_id" and "missing column" in q[0][3]
    assert q[1][2] == "note" and "unexpected column" in q[1][3]


def test_jsonl_truncated_line_and_wrong_type(con, registry, landing):
    good = {"invoice_id": "INV-J1", "version": 1, "provider_id": "P-A", "deal_id": "D-A",
            "customer_id": "C-1", "issue_date": "2026-02-01", "due_date": None,
            "period_start": "2026-02-01", "period_end": "2026-02-28", "usage_hours": 10,
            "amount_usd": "100.10", "status": "paid", "paid_date": "2026-02-10"}
    wrong = dict(good, invoice_id="INV-J2", amount_usd={"usd": 1})
    missing = {k: v for k, v in good.items() if k != "status"} | {"invoice_id": "INV-J3"}
    lines = [json.dumps(good), json.dumps(dict(good, invoice_id="INV-J4"))[:40],
             json.dumps(wrong), json.dumps(missing)]
    _write(landing, "P-A", "2026-02-02", "inv.jsonl", "\n".join(lines) + "\n")
    stats = ingest_invoices(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 3)
    q = _quarantine(con)
    assert [(line, field) for _, line, field, _ in q] == [(2, ""), (3, "amount_usd"),
                                                          (4, "status")]
    assert "invalid JSON" in q[0][3]


def test_invalid_utf8_line_is_quarantined_other_rows_load(con, registry, landing):
    bad = GOOD.replace("INV-1", "INV-2").replace("C-1", "C-\xe9").encode("latin-1")
    content = (HEADER + "\n" + GOOD + "\n").encode() + bad + b"\n"
    _write(landing, "P-A", "2026-02-02", "inv.csv", content)
    stats = ingest_invoices(con, landing, registry)
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 1)
    (file, line, field, reason), = _quarantine(con)
    assert line == 3 and "UTF-8" in reason


def test_conflicting_payload_keeps_the_earliest_delivery(con, registry, landing):
    changed = GOOD.replace("1250.50", "999")
    _write(landing, "P-A", "2026-02-05", "late.csv", HEADER + "\n" + changed + "\n")
    ingest_invoices(con, landing, registry)
    # an earlier delivery arrives afterwards: it wins, the later one is quarantined
    _write(landing, "P-A", "2026-02-02", "early.csv", HEADER + "\n" + GOOD + "\n")
    stats = ingest_invoices(con, landing, registry)
    assert stats.files_read == 1 and stats.files_skipped == 1
    assert con.execute("select amount_usd, delivery_date::varchar from raw.invoices"
                       ).fetchall() == [(Decimal("1250.50"), "2026-02-02")]
    q = _quarantine(con)
    assert [(f, line) for f, line, _, _ in q] == [("invoices/P-A/2026-02-05/late.csv", 2)]
    assert "different payload" in q[0][3]


def test_same_payload_again_is_ignored_and_number_format_does_not_matter(con, registry, landing):
    _write(landing, "P-A", "2026-02-02", "a.csv", HEADER + "\n" + GOOD + "\n")
    _write(landing, "P-A", "2026-02-03", "b.csv",
           HEADER + "\n" + GOOD.replace("1250.50", "1250.5") + "\n")
    stats = ingest_invoices(con, landing, registry)
    assert (stats.files_read, stats.rows_loaded, stats.rows_quarantined) == (2, 1, 0)
