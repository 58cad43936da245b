"""Provider invoices for the financed capacity, consistent with the simulated telemetry.

Revenue-share providers bill an anchor customer for reserved capacity monthly in advance
(70 % of the financed GPUs) and on-demand customers every two weeks in arrears for the
GPU-hours the telemetry shows in use on the rest. One restatement (version 2), one SLA
credit note, and one file delivered twice are part of the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from demo.book import MODEL_H100, DemoBook
from demo.gpu_telemetry import GpuSimulation

COLUMNS = ("invoice_id", "version", "provider_id", "deal_id", "customer_id", "issue_date", "due_date",
           "period_start", "period_end", "usage_hours", "amount_usd", "status", "paid_date")
CUSTOMERS = ("C-LLM-LAB", "C-BIOFOLD", "C-VISIONAI", "C-FINSIGHT", "C-AUTODRIVE", "C-GAMESTREAM",
             "C-SPEECHWORKS", "C-GENOMICS", "C-RECSYS", "C-WEATHERML")
JSONL_PROVIDERS = ("P-HK-HARB", "P-DK-NORD")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    version: int
    provider_id: str
    deal_id: str
    customer_id: str
    issue_date: date
    due_date: date
    period_start: date
    period_end: date
    usage_hours: Decimal
    amount_usd: Decimal
    status: str
    delivery_date: date
    file_stem: str = ""  # file name without extension; default invoices_<delivery_date>

    @property
    def period_days(self) -> int:
        return (self.period_end - self.period_start).days + 1


def _month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _hours(x: float) -> Decimal:
    return Decimal(str(round(x, 2))).quantize(CENT)


def build_invoices(book: DemoBook, sim: GpuSimulation) -> list[Invoice]:
    rng = np.random.default_rng([book.seed, 4])
    end = book.end_day
    invoices: list[Invoice] = []
    counters: dict[str, int] = {}
    row_of = {g: i for i, g in enumerate(sim.gpu_ids)}

    def next_id(provider_id: str) -> str:
        counters[provider_id] = counters.get(provider_id, 0) + 1
        return f"INV-{provider_id[2:]}-{counters[provider_id]:04d}"

    def day_idx(d: date) -> int:
        return (d - book.first_day).days

    for deal in book.deals:
        spec = deal.spec
        pid = spec.provider_id
        gpu_rows = [row_of[a.asset_id] for a in book.assets
                    if a.deal_id == deal.deal_id and a.asset_type == "gpu"]
        h100 = spec.model == MODEL_H100
        cust = [CUSTOMERS[int(i)] for i in rng.permutation(len(CUSTOMERS))[:3]]
        reserved_rate = Decimal(str(round(float(rng.uniform(2.05, 2.35) if h100 else rng.uniform(2.85, 3.25)), 2)))
        od_rate = Decimal(str(round(float(rng.uniform(2.60, 2.95) if h100 else rng.uniform(3.40, 3.80)), 2)))

        def monthly_in_advance(units: int, rate: Decimal, customer: str, lag: int) -> None:
            start = deal.funded_date
            while start <= end:
                p_end = _month_end(start)
                issue = start
                delivered = issue + timedelta(days=lag)
                if delivered <= end:
                    hours = Decimal(units * 24 * ((p_end - start).days + 1))
                    invoices.append(Invoice(next_id(pid), 1, pid, deal.deal_id, customer, issue,
                                            issue + timedelta(days=30), start, p_end, hours.quantize(CENT),
                                            (hours * rate).quantize(CENT), "issued", delivered))
                start = p_end + timedelta(days=1)

        if spec.model == "PM-CR-3":
            robots = sum(1 for a in book.assets if a.deal_id == deal.deal_id)
            monthly_in_advance(robots * 16 // 24, Decimal("3.10"), "C-MALLGROUP-KL", 1)
            continue
        if spec.structure == "fixed_rate":
            if pid == "P-TH-SIAM":
                monthly_in_advance(int(len(gpu_rows) * 0.9), reserved_rate, cust[0], 0)
            continue

        n_res = int(round(len(gpu_rows) * 0.7))
        od_rows = gpu_rows[n_res:]
        first_res = len(invoices)
        monthly_in_advance(n_res, reserved_rate, cust[0], 0 if pid != "P-JP-SAKU" else 1)
        s = deal.funded_date
        k = 0
        while True:
            p_end = s + timedelta(days=13)
            issue = p_end + timedelta(days=1)
            delivered = issue + timedelta(days=int(rng.integers(0, 3)))
            if delivered > end or not od_rows:
                break
            hours = sum(sim.billable_hours(od_rows, day_idx(s + timedelta(days=j))) for j in range(14))
            hours_d = _hours(hours)
            invoices.append(Invoice(next_id(pid), 1, pid, deal.deal_id, cust[1 + k % 2], issue,
                                    issue + timedelta(days=30), s, p_end, hours_d,
                                    (hours_d * od_rate).quantize(CENT), "issued", delivered))
            if deal.deal_id == "D-JP-002" and k == 0 and delivered + timedelta(days=3) <= end:
                # metering correction: duplicate job records removed, 3 % fewer hours
                v1 = invoices[-1]
                h2 = (v1.usage_hours * Decimal("0.97")).quantize(CENT)
                invoices.append(replace(v1, version=2, usage_hours=h2, amount_usd=(h2 * od_rate).quantize(CENT),
                                        delivery_date=v1.delivery_date + timedelta(days=3)))
            s = issue
            k += 1

        inc = book.incidents
        if deal.deal_id == "D-HK-001" and inc.offline_days:
            back = book.first_day + timedelta(days=inc.offline_days[-1] + 1)
            target = next((i for i in invoices[first_res:] if i.deal_id == deal.deal_id
                           and i.period_start <= back - timedelta(days=1) <= i.period_end
                           and i.customer_id == cust[0]), None)
            if target is not None and back + timedelta(days=1) <= end:
                hrs = -(target.usage_hours * Decimal("0.03")).quantize(CENT)
                invoices.append(Invoice(next_id(pid), 1, pid, deal.deal_id, cust[0], back, back + timedelta(days=30),
                                        target.period_start, target.period_end, hrs,
                                        (hrs * reserved_rate).quantize(CENT), "issued", back + timedelta(days=1)))
        if deal.deal_id == "D-NO-001":
            first_inv = next((i for i in invoices[first_res:] if i.deal_id == deal.deal_id), None)
            if first_inv is not None and first_inv.delivery_date + timedelta(days=2) <= end:
                # the provider's portal sent the first file again, byte for byte
                invoices.append(replace(first_inv, delivery_date=first_inv.delivery_date + timedelta(days=2),
                                        file_stem=f"invoices_{first_inv.delivery_date.isoformat()}"))
    return _number_by_issue_date(invoices)


def _number_by_issue_date(invoices: list[Invoice]) -> list[Invoice]:
    """Renumber each provider's invoices in issue order (versions keep their invoice's id)."""
    firsts = sorted({(i.provider_id, i.issue_date, i.period_start, i.customer_id, i.invoice_id)
                     for i in invoices})
    new_id: dict[str, str] = {}
    seq: dict[str, int] = {}
    for pid, _, _, _, old in firsts:
        if old not in new_id:
            seq[pid] = seq.get(pid, 0) + 1
            new_id[old] = f"INV-{pid[2:]}-{seq[pid]:04d}"
    return [replace(i, invoice_id=new_id[i.invoice_id]) for i in invoices]


def render_invoice_files(invoices: list[Invoice]) -> dict[str, bytes]:
    """Relative path under landing/invoices -> file bytes (one file per provider and delivery)."""
    groups: dict[tuple[str, date, str], list[Invoice]] = {}
    for inv in invoices:
        stem = inv.file_stem or f"invoices_{inv.delivery_date.isoformat()}"
        groups.setdefault((inv.provider_id, inv.delivery_date, stem), []).append(inv)
    files: dict[str, bytes] = {}
    for (pid, delivered, stem), rows in sorted(groups.items()):
        jsonl = pid in JSONL_PROVIDERS
        if jsonl:
            body = "".join(json.dumps({
                "invoice_id": i.invoice_id, "version": i.version, "provider_id": i.provider_id,
                "deal_id": i.deal_id, "customer_id": i.customer_id, "issue_date": i.issue_date.isoformat(),
                "due_date": i.due_date.isoformat(), "period_start": i.period_start.isoformat(),
                "period_end": i.period_end.isoformat(), "usage_hours": float(i.usage_hours),
                "amount_usd": str(i.amount_usd), "status": i.status, "paid_date": None},
                separators=(",", ":")) + "\n" for i in rows)
        else:
            body = ",".join(COLUMNS) + "\n" + "".join(
                f"{i.invoice_id},{i.version},{i.provider_id},{i.deal_id},{i.customer_id},{i.issue_date},"
                f"{i.due_date},{i.period_start},{i.period_end},{i.usage_hours},{i.amount_usd},{i.status},\n"
                for i in rows)
        files[f"{pid}/{delivered.isoformat()}/{stem}.{'jsonl' if jsonl else 'csv'}"] = body.encode()
    return files


def latest_versions(invoices: list[Invoice], as_of: date | None = None) -> list[Invoice]:
    """Highest version of each invoice_id delivered by `as_of` (all when None), void excluded."""
    best: dict[str, Invoice] = {}
    for inv in invoices:
        if as_of is not None and inv.delivery_date > as_of:
            continue
        cur = best.get(inv.invoice_id)
        if cur is None or inv.version > cur.version:
            best[inv.invoice_id] = inv
    return [i for i in best.values() if i.status != "void"]


def revenue_on(invoices: list[Invoice], deal_id: str, day: date) -> Decimal:
    """METHODOLOGY 3b revenue(D) over the given (already de-versioned) invoices."""
    total = Decimal(0)
    for i in invoices:
        if i.deal_id == deal_id and i.period_start <= day <= i.period_end:
            total += i.amount_usd / i.period_days
    return total
