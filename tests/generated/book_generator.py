"""A seeded generator of complete input books in the formats of the data contract.

`generate_book(seed, root)` writes `root/registry/*.csv`, `root/landing/...` and
`root/chain_events.jsonl` (the layout `aidnav replay` reads) for a small portfolio over a
window of 40 to 70 days, and returns what it wrote and which situations of the contract the
book contains (`GeneratedBook.features`).

Every book holds, placed by the seed:
* both deal structures on both asset classes; every optional registry cell empty somewhere
  (payment_lag_days, min_collateral_ratio, provider_address, collection_address, country,
  site, description, label; inception_date and most parameters left to their defaults);
* fundings on the first day, on a month end and on 29 February (leap windows), maturities
  inside the window on a month end, on 29 February and on an ordinary day;
* monthly and weekly invoices, a credit note, a restated version 2, a voided version, the
  same file delivered twice, a conflicting payload under an existing version, bad rows (a
  status, a service period before the funding);
* payers that pay on time, late, partly or never; principal repaid before, on and after
  maturity (one each among the deals that mature in the window); a payment from a third
  party; cash moved between reserve addresses; fees paid; cash sent off chain;
* GPU nodes offline for days, GPUs missing hours, energy counter resets, a batch signed by
  a key that is not registered, a batch delivered again, samples delivered in the next
  day's folder, timestamps with a non-Z offset, an implausible sample, an unknown GPU, a
  sample dated after its delivery day;
* robots with WARNING, CRITICAL and FATAL errors and without errors, counter resets,
  offline days, records delivered twice, an unknown robot;
* deposits, staking at midnight, sAID transfers (to the excluded pool too), withdrawals,
  yield minted into the vault, AID redeemed for USDC.

Expected figures never come from here: the books are checked by properties only. The
amounts the payers send are the generator's own rough estimates of what falls due (the
estimate being off only makes a payer a little late or partial, which the books want).
GPU batches are signed with deterministic TEST keys (`demo.keys`).
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from eth_utils import keccak

from demo.keys import derive_test_key
from ingestion.nvml.signature import sign_batch

CHAIN_ID = 1
SAMPLE_INTERVAL_S = 3600
ZERO = "0x" + "00" * 20
USDC_UNIT = Decimal(10) ** 6
TOKEN_UNIT = 10**18
ROBOT_REPORT_HOURS = (0, 8, 16)
MODES = ("CLEANING", "IDLE", "CHARGING", "MANUAL", "SERVICE", "EMERGENCY", "OFFLINE")

# Every situation the generator places in each book (see the module docstring); the
# generator's own test checks that each seed holds all of them.
FEATURES = (
    "fixed_rate", "revenue_share", "gpu_deal", "robot_deal",
    "empty_payment_lag_days", "empty_min_collateral_ratio", "empty_provider_address",
    "empty_collection_address", "empty_country", "empty_site", "empty_description",
    "empty_label", "default_inception_or_params",
    "funded_first_day", "funded_month_end", "funded_inside_window", "maturity_month_end",
    "maturity_inside_window", "maturity_ordinary_day",
    "invoice_monthly", "invoice_weekly", "credit_note", "restated_v2", "voided",
    "duplicate_delivery", "conflicting_payload", "bad_invoice_row", "invoice_jsonl",
    "pays_on_time", "pays_late", "pays_partly", "never_pays",
    "principal_before_maturity", "principal_on_maturity", "principal_after_maturity",
    "third_party_payment", "reserve_to_reserve", "fees_paid", "cash_off_chain",
    "node_offline_days", "gpu_missing_hours", "energy_counter_reset", "foreign_signature",
    "redelivered_batch", "next_day_folder_samples", "non_z_offset", "implausible_sample",
    "unknown_gpu", "sample_dated_after_delivery", "asset_acquired_after_funding",
    "robot_warning", "robot_critical", "robot_fatal", "robot_no_errors",
    "robot_counter_reset", "robot_offline_days", "robot_redelivered", "unknown_robot",
    "deposits", "stake_at_midnight", "said_transfer", "said_to_excluded", "withdraw",
    "yield_mint", "redeem",
)
# Only in windows that contain 29 February (the default, leap-year windows).
LEAP_FEATURES = ("funded_feb29", "maturity_feb29")


def addr(name: str) -> str:
    """A readable, deterministic, lower-case address for a name."""
    return "0x" + keccak(text=f"generated-book:{name}")[-20:].hex()


def money(x: Decimal) -> str:
    return format(x.quantize(Decimal("0.01")), "f")


def usdc(x: Decimal) -> str:
    return str(int((x * USDC_UNIT).to_integral_value(rounding=ROUND_DOWN)))


def iso_z(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=timezone.utc)


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


@dataclass
class DealSpec:
    deal_id: str
    provider_id: str
    asset_class: str
    structure: str
    principal: Decimal
    funded: date
    maturity: date
    fixed_apr: Decimal | None = None
    share_pct: Decimal | None = None
    target_multiple: Decimal | None = None
    tail_pct: Decimal | None = None
    payment_lag_days: int | None = None  # None: the cell is left empty (default 15)
    min_collateral_ratio: Decimal | None = None  # None: empty (default 1.30)
    provider_address: str | None = None
    collection_address: str | None = None
    payer: str = "on_time"  # on_time | late | partial | never
    principal_timing: str | None = None  # before | on | after (deals maturing in the window)


@dataclass
class GeneratedBook:
    seed: int
    input_dir: Path
    first_day: date
    last_day: date
    deals: list[DealSpec]
    features: Counter = field(default_factory=Counter)
    # (source, field) -> how many quarantine rows the planted bad records must give
    rejections: Counter = field(default_factory=Counter)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


class _Chain:
    """Decoded chain events, one transaction per call, in time order."""

    def __init__(self) -> None:
        self.txs: list[tuple[datetime, list[tuple[str, str, dict]]]] = []

    def tx(self, t: datetime, *logs: tuple[str, str, dict]) -> None:
        self.txs.append((t, list(logs)))

    def lines(self) -> list[str]:
        out = []
        block = 30_000_000
        last_ts = None
        for t, logs in sorted(self.txs, key=lambda x: x[0]):
            if t != last_ts:
                block += 1
                last_ts = t
            block_hash = "0x" + keccak(text=f"block:{block}").hex()
            tx_hash = "0x" + keccak(text=f"tx:{len(out)}:{block}").hex()
            for i, (address, event, args) in enumerate(logs):
                out.append(json.dumps({
                    "chain_id": CHAIN_ID, "block_number": block, "block_hash": block_hash,
                    "block_timestamp": iso_z(t), "tx_hash": tx_hash, "log_index": i,
                    "address": address, "event": event, "args": args},
                    separators=(",", ":")))
        return out


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue().encode()


def generate_book(seed: int, root: Path, first_day: date | None = None,
                  days: int | None = None) -> GeneratedBook:
    """Write one book for `seed` under `root`. By default the window is 40 to 70 days in
    early 2024 and contains 29 February (in the past: telemetry dated after the run's
    clock is refused); `first_day`/`days` place it elsewhere."""
    rng = random.Random(seed)
    root = Path(root)
    if first_day is None:
        first_day = date(2024, 1, 1) + timedelta(days=rng.randint(10, 50))
    if days is None:  # 40 to 70 days, at least to 5 March: 29 February is inside
        days = max(rng.randint(40, 70), (date(first_day.year, 3, 5) - first_day).days + 1)
    last_day = first_day + timedelta(days=days - 1)
    window = [first_day + timedelta(days=i) for i in range(days)]
    month_ends = [d for d in window if d == month_end(d)]
    feb29 = next((d for d in window if d.month == 2 and d.day == 29), None)
    f = Counter()
    book = GeneratedBook(seed, root, first_day, last_day, [], f)

    def pick(xs):
        return xs[rng.randrange(len(xs))]

    def dec(lo: float, hi: float, places: int = 2) -> Decimal:
        q = Decimal(1).scaleb(-places)
        return Decimal(str(rng.uniform(lo, hi))).quantize(q)

    # ---- deals --------------------------------------------------------------------
    me_mid = [d for d in month_ends if first_day + timedelta(days=10) <= d <= last_day - timedelta(days=5)]
    ordinary = [d for d in window[12:-5] if d not in month_ends and d != feb29]
    d0_maturity = pick(me_mid) if me_mid else pick(ordinary)
    d1_maturity = feb29 if feb29 and feb29 > first_day else pick(ordinary)
    d2_funded = next((d for d in month_ends if d >= first_day + timedelta(days=2)), window[5])
    d3_funded = feb29 if feb29 and feb29 <= last_day - timedelta(days=20) else pick(window[3:days - 25])
    d3_maturity = pick([d for d in window if d3_funded + timedelta(days=10) <= d <= last_day - timedelta(days=4)
                        and d not in month_ends and d != feb29] or [last_day - timedelta(days=4)])
    d4_funded = feb29 if feb29 and feb29 > first_day else pick(window[4:days - 10])
    payers = ["on_time", "late", "partial", pick(["on_time", "late", "partial"])]
    rng.shuffle(payers)
    timings = ["before", "on", "after"]
    rng.shuffle(timings)
    empty_lag = rng.choice([0, 1])  # which revenue-share deal leaves payment_lag_days empty
    deals = [
        DealSpec("D-GPU-FIX", "P-ALPHA", "gpu", "fixed_rate", Decimal(rng.randrange(40, 90) * 1000),
                 first_day, d0_maturity, fixed_apr=dec(0.06, 0.15, 3),
                 min_collateral_ratio=pick([None, Decimal("1.25"), Decimal("1.40")]),
                 payer=payers[0], principal_timing=timings[0]),
        DealSpec("D-GPU-RS", "P-BETA", "gpu", "revenue_share", Decimal(rng.randrange(10, 30) * 1000),
                 first_day, d1_maturity, share_pct=dec(0.4, 0.7), target_multiple=dec(1.1, 1.4),
                 tail_pct=dec(0.05, 0.15), payment_lag_days=None if empty_lag == 0 else rng.randint(3, 20),
                 min_collateral_ratio=Decimal("1.30"), payer=payers[1], principal_timing=timings[1]),
        DealSpec("D-ROB-FIX", "P-GAMMA", "robot", "fixed_rate", Decimal(rng.randrange(20, 50) * 1000),
                 d2_funded, last_day + timedelta(days=rng.randint(60, 400)), fixed_apr=dec(0.08, 0.16, 3),
                 min_collateral_ratio=None, payer=payers[2]),
        DealSpec("D-ROB-RS", "P-GAMMA", "robot", "revenue_share", Decimal(rng.randrange(5, 20) * 1000),
                 d3_funded, d3_maturity, share_pct=dec(0.5, 0.8), target_multiple=dec(1.05, 1.3),
                 tail_pct=dec(0.0, 0.1), payment_lag_days=None if empty_lag == 1 else rng.randint(0, 10),
                 min_collateral_ratio=pick([None, Decimal("1.10")]), payer=payers[3],
                 principal_timing=timings[2]),
        DealSpec("D-GPU-LOST", "P-DELTA", "gpu", "fixed_rate", Decimal(rng.randrange(5, 15) * 1000),
                 d4_funded, last_day + timedelta(days=rng.randint(30, 200)), fixed_apr=dec(0.1, 0.2, 3),
                 min_collateral_ratio=pick([None, Decimal("1.50")]), payer="never"),
    ]
    for d in deals:
        if d.deal_id != "D-GPU-LOST":
            d.provider_address = addr(f"{seed}:provider:{d.provider_id}")
            d.collection_address = addr(f"{seed}:collection:{d.deal_id}")
    book.deals = deals
    f.update(d.structure for d in deals)
    f.update(f"{d.asset_class}_deal" for d in deals)
    f.update("empty_payment_lag_days" for d in deals if d.payment_lag_days is None)
    f.update("empty_min_collateral_ratio" for d in deals if d.min_collateral_ratio is None)
    f.update("empty_provider_address" for d in deals if d.provider_address is None)
    f.update("empty_collection_address" for d in deals if d.collection_address is None)
    for d in deals:
        f["funded_first_day"] += d.funded == first_day
        f["funded_month_end"] += d.funded in month_ends
        f["funded_feb29"] += d.funded == feb29
        f["funded_inside_window"] += first_day < d.funded <= last_day
        f["maturity_inside_window"] += d.maturity <= last_day
        f["maturity_month_end"] += d.maturity in month_ends
        f["maturity_feb29"] += d.maturity == feb29
        f["maturity_ordinary_day"] += (d.maturity <= last_day and d.maturity not in month_ends
                                       and d.maturity != feb29)

    # ---- registry -----------------------------------------------------------------
    reg = root / "registry"
    providers = [("P-ALPHA", "Alpha Compute", "TH", "true"), ("P-BETA", "Beta Cloud", "SG", "false"),
                 ("P-GAMMA", "Gamma Cleaning", "MY", "false"), ("P-DELTA", "Delta GPU", "VN", "true")]
    blank = rng.randrange(len(providers))
    rows = []
    for i, (pid, name, country, ncp) in enumerate(providers):
        rows.append([pid, name, "" if i == blank else country, ncp,
                     (first_day - timedelta(days=rng.randint(30, 400))).isoformat()])
    f["empty_country"] += 1
    _write(reg / "providers.csv", _csv_bytes(
        ["provider_id", "name", "country", "nvidia_cloud_partner", "onboarded_date"], rows))

    _write(reg / "deals.csv", _csv_bytes(
        ["deal_id", "provider_id", "asset_class", "structure", "principal_usd", "funded_date",
         "maturity_date", "fixed_apr", "revenue_share_pct", "target_multiple", "tail_share_pct",
         "payment_lag_days", "min_collateral_ratio", "provider_address", "collection_address"],
        [[d.deal_id, d.provider_id, d.asset_class, d.structure, d.principal, d.funded.isoformat(),
          d.maturity.isoformat(), d.fixed_apr, d.share_pct, d.target_multiple, d.tail_pct,
          d.payment_lag_days, d.min_collateral_ratio, d.provider_address, d.collection_address]
         for d in deals]))

    nodes = {"node-a": "D-GPU-FIX", "node-b": "D-GPU-RS", "node-c": "D-GPU-LOST"}
    node_keys = {n: derive_test_key(f"generated-book:{seed}:{n}") for n in nodes}
    foreign_key = derive_test_key(f"generated-book:{seed}:foreign")
    gpus: list[tuple[str, str, str]] = []  # (uuid, node, model)
    asset_rows = []
    by_id = {d.deal_id: d for d in deals}
    for node, deal_id in nodes.items():
        model = {"node-a": "H100-SXM5-80GB", "node-b": "L40S-48GB", "node-c": "H200-141GB"}[node]
        for k in range(2 if node != "node-c" else 1):
            uuid = "GPU-" + keccak(text=f"{seed}:{node}:{k}").hex()[:32]
            uuid = f"{uuid[:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:24]}-{uuid[24:36]}"
            gpus.append((uuid, node, model))
            acquired = by_id[deal_id].funded - timedelta(days=rng.randint(0, 200))
            if node == "node-a" and k == 1:  # bought after the deal was funded
                acquired = first_day + timedelta(days=rng.randint(3, 12))
                f["asset_acquired_after_funding"] += 1
            asset_rows.append([uuid, deal_id, "gpu", model, rng.choice([8000, 26000, 32000]),
                               acquired.isoformat(), rng.choice([1095, 1460, 1825]),
                               pick(["0.10", "0.05", "0"]), node, node_keys[node].address.lower(),
                               "" if node == "node-b" else f"SITE-{node[-1].upper()}"])
    robots: list[tuple[str, str]] = []  # (robot_id, fleet)
    for deal_id, fleet, n in (("D-ROB-FIX", "fleet-a", 2), ("D-ROB-RS", "fleet-b", 1)):
        for k in range(n):
            rid = f"PM-{seed % 1000:03d}-{fleet[-1].upper()}{k + 1}"
            robots.append((rid, fleet))
            asset_rows.append([rid, deal_id, "robot", "PM-CR-3" if fleet == "fleet-a" else "PM-CR-5",
                               rng.choice([15000, 20000]),
                               (by_id[deal_id].funded - timedelta(days=rng.randint(0, 300))).isoformat(),
                               1825, "0.10", fleet, "", "" if k == 0 else "KUL-3"])
    f["empty_site"] += 1
    _write(reg / "assets.csv", _csv_bytes(
        ["asset_id", "deal_id", "asset_type", "model", "purchase_price_usd", "acquired_date",
         "useful_life_days", "residual_pct", "node_id", "node_address", "site"], asset_rows))

    step = pick(window[5:-5])
    _write(reg / "price_index.csv", _csv_bytes(["model", "as_of", "market_index"], [
        ["H100-SXM5-80GB", (first_day - timedelta(days=20)).isoformat(), "1.00"],
        ["H100-SXM5-80GB", step.isoformat(), dec(0.8, 1.1)],
        ["L40S-48GB", first_day.isoformat(), dec(0.8, 1.0)],
        ["PM-CR-3", (first_day - timedelta(days=5)).isoformat(), "1.00"],
        ["PM-CR-3", pick(window[10:]).isoformat(), dec(0.6, 0.95)],
    ]))  # H200 and PM-CR-5 have no index: 1.0

    offchain_day = pick(window[3:-10])
    offchain_amount = Decimal(rng.randrange(5, 20) * 1000)
    _write(reg / "offchain_reserves.csv", _csv_bytes(["as_of", "amount_usd", "description"], [
        [offchain_day.isoformat(), offchain_amount, "T-bill buffer"],
        [(offchain_day + timedelta(days=rng.randint(5, 9))).isoformat(),
         offchain_amount + dec(1, 200), ""],
    ]))
    f["empty_description"] += 1

    roles = {r: addr(f"{seed}:{r}") for r in ("usdc", "aid", "said", "gaib", "nav_oracle",
                                              "rewards_distributor", "treasury", "fee_recipient")}
    pool = addr(f"{seed}:pool")
    address_rows = [[CHAIN_ID, r, a, "" if r in ("gaib", "nav_oracle") else r.upper()]
                    for r, a in roles.items()]
    address_rows += [[CHAIN_ID, "collection", d.collection_address, f"collection {d.deal_id}"]
                     for d in deals if d.collection_address]
    address_rows.append([CHAIN_ID, "excluded", pool, ""])
    f["empty_label"] += 1
    _write(reg / "addresses.csv", _csv_bytes(["chain_id", "role", "address", "label"], address_rows))

    budget = pick(["10000", "777", "1234.567891", "1"])
    params = [["sample_interval_s", SAMPLE_INTERVAL_S], ["daily_rewards_budget_gaib", budget]]
    if rng.random() < 0.5:
        params.insert(0, ["inception_date", first_day.isoformat()])
    if rng.random() < 0.5:
        params.append(["protocol_fee_apr", pick(["0.0025", "0.01", "0"])])
    if rng.random() < 0.5:
        params.append(["recovery_rate", pick(["0.70", "0.5"])])
    f["default_inception_or_params"] += 1
    _write(reg / "params.csv", _csv_bytes(["name", "value"], params))

    # ---- invoices -----------------------------------------------------------------
    landing = root / "landing"
    revenue: dict[str, dict[date, Decimal]] = {}
    inv_header = ["invoice_id", "version", "provider_id", "deal_id", "customer_id", "issue_date",
                  "due_date", "period_start", "period_end", "usage_hours", "amount_usd", "status",
                  "paid_date"]

    def inv(iid, ver, d: DealSpec, cust, start: date, end: date, hours, amount, status="issued",
            paid: date | None = None, issue: date | None = None) -> dict:
        issue = issue or end
        return {"invoice_id": iid, "version": ver, "provider_id": d.provider_id,
                "deal_id": d.deal_id, "customer_id": cust, "issue_date": issue.isoformat(),
                "due_date": (issue + timedelta(days=30)).isoformat(),
                "period_start": start.isoformat(), "period_end": end.isoformat(),
                "usage_hours": str(hours), "amount_usd": money(amount), "status": status,
                "paid_date": paid.isoformat() if paid else None}

    def deliver(d: DealSpec, when: date, name: str, invs: list[dict], fmt: str = "csv") -> bytes:
        when = min(max(when, first_day), last_day)
        if fmt == "csv":
            data = _csv_bytes(inv_header, [[i[c] for c in inv_header] for i in invs])
        else:
            data = "".join(json.dumps({**i, "version": int(i["version"]),
                                       "usage_hours": int(Decimal(i["usage_hours"]))},
                                      separators=(",", ":")) + "\n" for i in invs).encode()
            f["invoice_jsonl"] += 1
        _write(landing / "invoices" / d.provider_id / when.isoformat() / f"{name}.{fmt}", data)
        return data

    def book_revenue(d: DealSpec, i: dict, sign: int = 1) -> None:
        start, end = date.fromisoformat(i["period_start"]), date.fromisoformat(i["period_end"])
        per_day = Decimal(i["amount_usd"]) / ((end - start).days + 1)
        day = start
        while day <= end:
            revenue.setdefault(d.deal_id, {})
            revenue[d.deal_id][day] = revenue[d.deal_id].get(day, Decimal(0)) + sign * per_day
            day += timedelta(days=1)

    for d in (x for x in deals if x.structure == "revenue_share"):
        tag = d.deal_id[2:5]
        rate = dec(8, 14)
        # monthly invoices from the funding to past maturity (the share accrues only
        # inside [funded, maturity])
        start = d.funded
        stop = min(last_day, d.maturity + timedelta(days=rng.randint(0, 6)))
        monthly = []
        n = 1
        while start <= stop:
            end = min(month_end(start), stop)
            hours = 24 * ((end - start).days + 1) * (2 if d.asset_class == "gpu" else 1)
            monthly.append(inv(f"INV-{tag}-{n:03d}", 1, d, "C-ACME", start, end, hours,
                               rate * hours))
            start, n = end + timedelta(days=1), n + 1
        f["invoice_monthly"] += len(monthly)
        for i in monthly:
            book_revenue(d, i)
        first_file = deliver(d, date.fromisoformat(monthly[0]["period_start"]) + timedelta(days=1),
                             f"invoices-{monthly[0]['invoice_id']}", monthly[:1])
        for i in monthly[1:]:
            deliver(d, date.fromisoformat(i["issue_date"]), f"invoices-{i['invoice_id']}", [i])
        # the first file delivered again, byte for byte, in a later folder
        again = min(last_day, date.fromisoformat(monthly[0]["period_start"]) + timedelta(days=rng.randint(3, 9)))
        _write(landing / "invoices" / d.provider_id / again.isoformat()
               / f"invoices-{monthly[0]['invoice_id']}.csv", first_file)
        f["duplicate_delivery"] += 1
        # restatement of the first month (version 2, a different amount, paid), as JSON Lines
        v1 = monthly[0]
        v2 = {**v1, "version": 2, "amount_usd": money(Decimal(v1["amount_usd"]) * dec(0.8, 1.2)),
              "status": "paid", "paid_date": min(last_day, date.fromisoformat(v1["issue_date"])
                                                  + timedelta(days=10)).isoformat()}
        book_revenue(d, v1, -1)
        book_revenue(d, v2)
        deliver(d, date.fromisoformat(v1["issue_date"]) + timedelta(days=rng.randint(2, 12)),
                f"restated-{v1['invoice_id']}", [v2], fmt="jsonl")
        f["restated_v2"] += 1
        # a weekly invoice of another customer, voided by its version 2
        wk_start = pick([x for x in window if d.funded <= x <= d.maturity - timedelta(days=6)]
                        or [d.funded])
        weekly = inv(f"INV-{tag}-W01", 1, d, "C-BETA", wk_start, wk_start + timedelta(days=6),
                     100, dec(500, 3000), issue=wk_start + timedelta(days=6))
        deliver(d, wk_start + timedelta(days=7), "weekly", [weekly])
        deliver(d, wk_start + timedelta(days=7 + rng.randint(1, 5)), "weekly-void",
                [{**weekly, "version": 2, "status": "void"}])
        f["invoice_weekly"] += 1
        f["voided"] += 1
        # a credit note over a few days of service
        cn_start = pick([x for x in window if d.funded <= x <= d.maturity] or [d.funded])
        cn = inv(f"INV-{tag}-CN1", 1, d, "C-ACME", cn_start, cn_start + timedelta(days=rng.randint(0, 6)),
                 -rng.randint(10, 80), -dec(100, 900), issue=cn_start + timedelta(days=7))
        book_revenue(d, cn)
        deliver(d, cn_start + timedelta(days=8), "credit-note", [cn], fmt=pick(["csv", "jsonl"]))
        f["credit_note"] += 1
        # a different payload under an existing (invoice_id, version): quarantined, first kept;
        # plus a row with an impossible status
        last = monthly[-1]
        bad = {**last, "invoice_id": f"INV-{tag}-BAD", "status": "pending"}
        # and a service period that starts before the funding
        early = {**last, "invoice_id": f"INV-{tag}-EARLY", "period_start":
                 (d.funded - timedelta(days=rng.randint(1, 5))).isoformat()}
        deliver(d, date.fromisoformat(last["issue_date"]) + timedelta(days=1), "late-batch",
                [{**last, "amount_usd": money(Decimal(last["amount_usd"]) + 1)}, bad, early])
        f["conflicting_payload"] += 1
        f["bad_invoice_row"] += 2
        book.rejections[("invoices", "")] += 1
        book.rejections[("invoices", "status")] += 1
        book.rejections[("invoices", "period_start")] += 1

    # ---- chain: deposits, fundings, staking ----------------------------------------
    chain = _Chain()
    usdc_a, aid_a, said_a = roles["usdc"], roles["aid"], roles["said"]
    treasury, fee_recipient = roles["treasury"], roles["fee_recipient"]

    def usdc_tx(t, src, dst, amount: Decimal) -> None:
        chain.tx(t, (usdc_a, "Transfer", {"from": src, "to": dst, "value": usdc(amount)}))

    holders = [addr(f"{seed}:holder:{i}") for i in range(rng.randint(3, 5))]
    total_principal = sum(d.principal for d in deals)
    deposits = {}
    for i, h in enumerate(holders):
        amount = (total_principal * Decimal("1.5") / len(holders)).quantize(Decimal(1)) + rng.randint(0, 999)
        deposits[h] = amount
        t = at(first_day, 0, i, 12)
        chain.tx(t, (usdc_a, "Transfer", {"from": h, "to": treasury, "value": usdc(amount)}),
                 (aid_a, "Transfer", {"from": ZERO, "to": h, "value": str(int(amount) * TOKEN_UNIT)}))
    f["deposits"] += len(holders)
    for d in deals:
        dst = d.provider_address or addr(f"{seed}:wallet:{d.deal_id}")
        usdc_tx(at(d.funded, rng.randint(0, 23), rng.randint(0, 59)), treasury, dst, d.principal)

    said_bal: dict[str, int] = {}
    stakers = holders[:-1]
    for i, h in enumerate(stakers):
        day = first_day + timedelta(days=1 + i * rng.randint(0, 3))
        t = at(day) if i == 0 else at(day, rng.randint(0, 23), rng.randint(0, 59))
        amount = int(deposits[h] * Decimal(rng.randint(30, 90)) / 100) * TOKEN_UNIT
        said_bal[h] = amount
        chain.tx(t, (aid_a, "Transfer", {"from": h, "to": said_a, "value": str(amount)}),
                 (said_a, "Transfer", {"from": ZERO, "to": h, "value": str(amount)}),
                 (said_a, "Deposit", {"sender": h, "owner": h, "assets": str(amount),
                                      "shares": str(amount)}))
    f["stake_at_midnight"] += 1
    later = window[len(window) // 3:]
    src, dst = stakers[0], holders[-1]
    moved = said_bal[src] // rng.randint(3, 7)
    chain.tx(at(pick(later), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)),
             (said_a, "Transfer", {"from": src, "to": dst, "value": str(moved)}))
    f["said_transfer"] += 1
    moved2 = said_bal[stakers[1]] // rng.randint(4, 9)
    chain.tx(at(pick(later), rng.randint(0, 23)),
             (said_a, "Transfer", {"from": stakers[1], "to": pool, "value": str(moved2)}))
    f["said_to_excluded"] += 1
    yield_amount = rng.randint(100, 900) * TOKEN_UNIT
    chain.tx(at(pick(window[5:]), 0, 30),
             (aid_a, "Transfer", {"from": ZERO, "to": said_a, "value": str(yield_amount)}))
    f["yield_mint"] += 1
    w = stakers[-1]
    shares = said_bal[w] // rng.randint(3, 6)
    assets = shares + shares // 100
    chain.tx(at(pick(window[len(window) // 2:]), rng.randint(0, 23)),
             (said_a, "Withdraw", {"sender": w, "receiver": w, "owner": w, "assets": str(assets),
                                   "shares": str(shares)}),
             (said_a, "Transfer", {"from": w, "to": ZERO, "value": str(shares)}),
             (aid_a, "Transfer", {"from": said_a, "to": w, "value": str(assets)}))
    f["withdraw"] += 1
    r_amount = rng.randint(1000, 5000)
    t = at(pick(window[10:]), rng.randint(0, 23))
    chain.tx(t, (aid_a, "Transfer", {"from": holders[-1], "to": ZERO,
                                     "value": str(r_amount * TOKEN_UNIT)}),
             (usdc_a, "Transfer", {"from": treasury, "to": holders[-1], "value": usdc(Decimal(r_amount))}))
    f["redeem"] += 1
    usdc_tx(at(offchain_day, 10), treasury, addr(f"{seed}:custodian"), offchain_amount)
    f["cash_off_chain"] += 1
    for _ in range(rng.randint(1, 3)):
        usdc_tx(at(pick(window[3:]), 12, rng.randint(0, 59)), treasury, fee_recipient, dec(10, 400))
        f["fees_paid"] += 1
    payable = [d for d in deals if d.collection_address]
    usdc_tx(at(pick(window), 9), treasury, pick(payable).collection_address, dec(1, 50))
    f["reserve_to_reserve"] += 1

    # ---- chain: repayments ---------------------------------------------------------
    def pay(d: DealSpec, day: date, amount: Decimal, third_party: bool = False) -> None:
        if day > last_day or amount <= 0 or not d.collection_address:
            return
        payer = addr(f"{seed}:customer-pays:{d.deal_id}") if third_party else d.provider_address
        usdc_tx(at(day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)), payer,
                d.collection_address, amount)

    def pay_due(d: DealSpec, due_day: date, due: Decimal) -> None:
        if d.payer == "never" or due <= 0:
            return
        if d.payer == "on_time":
            pay(d, due_day + timedelta(days=rng.randint(0, 1)) if rng.random() < 0.3 else due_day,
                due * Decimal("1.001"))
            f["pays_on_time"] += 1
        elif d.payer == "late":
            pay(d, due_day + timedelta(days=rng.randint(3, 40)), due)
            f["pays_late"] += 1
        else:
            pay(d, due_day + timedelta(days=rng.randint(0, 3)), (due * dec(0.3, 0.8)).quantize(Decimal("0.01")))
            f["pays_partly"] += 1

    def repay_principal(d: DealSpec, amount: Decimal, third_party: bool = False) -> None:
        """Before or after maturity in one payment; on maturity day a part of it, the rest
        (with a little excess) some days later: principal stays due in between."""
        if d.principal_timing == "on":
            part = (amount * dec(0.5, 0.9)).quantize(Decimal("0.01"))
            pay(d, d.maturity, part, third_party)
            pay(d, d.maturity + timedelta(days=rng.randint(4, 15)), amount - part + dec(0, 5),
                third_party)
        else:
            day = (d.maturity - timedelta(days=rng.randint(2, 8)) if d.principal_timing == "before"
                   else d.maturity + timedelta(days=rng.randint(1, 8)))
            pay(d, day, amount + dec(0, 5), third_party)
        f[f"principal_{d.principal_timing}_maturity"] += 1

    for d in deals:
        if d.payer == "never":
            f["never_pays"] += 1
            continue
        if d.structure == "fixed_rate":
            accrued_from = d.funded  # first day not yet in a month-end due
            for me in [x for x in month_ends if d.funded <= x <= d.maturity]:
                interest = d.principal * d.fixed_apr / 365 * ((me - accrued_from).days + 1)
                pay_due(d, me, interest.quantize(Decimal("0.01")))
                accrued_from = me + timedelta(days=1)
            if d.principal_timing:
                tail = d.principal * d.fixed_apr / 365 * max(0, (d.maturity - accrued_from).days + 1)
                repay_principal(d, (d.principal + tail).quantize(Decimal("0.01")))
        else:
            lag = 15 if d.payment_lag_days is None else d.payment_lag_days
            rev = revenue.get(d.deal_id, {})
            months = sorted({month_end(x) for x in rev if d.funded <= x <= d.maturity})
            share_total = Decimal(0)
            for me in months:
                share = sum((v for k, v in rev.items() if month_end(k) == me and d.funded <= k <= d.maturity),
                            Decimal(0)) * d.share_pct
                share_total += share
                pay_due(d, me + timedelta(days=lag), share.quantize(Decimal("0.01")))
            if d.principal_timing:
                rest = max(Decimal(0), d.principal - share_total / d.target_multiple)
                repay_principal(d, rest.quantize(Decimal("0.01")),
                                third_party=d.principal_timing == "after")
                f["third_party_payment"] += d.principal_timing == "after"
    if not f["third_party_payment"]:
        d = pick(payable)
        pay(d, pick(window[5:]), dec(10, 100), third_party=True)
        f["third_party_payment"] += 1
    _write(root / "chain_events.jsonl", ("\n".join(chain.lines()) + "\n").encode())

    # ---- GPU telemetry -------------------------------------------------------------
    spd = 86400 // SAMPLE_INTERVAL_S
    energy = {u: rng.randint(10**9, 10**11) for u, _, _ in gpus}
    unknown_uuid = "GPU-ffffffff-0000-0000-0000-" + f"{seed:012d}"[-12:]
    energy[unknown_uuid] = 0
    offline_node = pick(["node-a", "node-b"])
    off_start = pick(window[2:-12])
    off_days = {off_start + timedelta(days=i) for i in range(rng.randint(3, 9))}
    f["node_offline_days"] += len(off_days)
    online = [x for x in window if x not in off_days]
    gap_gpu, gap_day = pick(gpus)[0], pick(online)
    gap_hours = set(range(rng.randint(0, 10), rng.randint(12, 24)))
    f["gpu_missing_hours"] += len(gap_hours)
    reset_gpu, reset_day, reset_hour = pick(gpus)[0], pick(window[1:]), rng.randint(0, 23)
    f["energy_counter_reset"] += 1
    foreign_day = pick([x for x in window if x not in off_days])
    foreign_node = pick(["node-a", "node-b", "node-c"])
    redeliver_day = pick([x for x in window[:-1] if x not in off_days])
    late_day = pick([x for x in window[:-1] if x not in off_days])
    offset_day = pick(window)
    hot = (pick(gpus)[0], pick(online), rng.randint(0, 11))
    unknown_day = pick(online)

    def sample(uuid: str, node: str, t: datetime, offset_h: int = 0, planted: bool = True) -> str:
        util = rng.randint(0, 100)
        power = round(70 + util * 6.2 + rng.random(), 1)
        energy[uuid] += int(power * SAMPLE_INTERVAL_S * 1000)
        if uuid == reset_gpu and t == at(reset_day, reset_hour):
            energy[uuid] = rng.randint(0, 10**6)
        temp = 35 + util // 3
        if planted and (uuid, t.date(), t.hour) == hot:
            temp = 150
        local = t.astimezone(timezone(timedelta(hours=offset_h)))
        ts = local.isoformat() if offset_h else iso_z(t)
        return json.dumps({
            "ts": ts, "node_id": node, "gpu_uuid": uuid, "gpu_util_pct": util,
            "mem_util_pct": util // 2, "mem_used_mib": 1000 + util * 500, "power_w": power,
            "energy_mj": energy[uuid], "temp_c": temp, "sm_clock_mhz": 1980, "xid_errors": 0,
            "ecc_dbe_count": 0, "serial": str(int(keccak(text=uuid).hex()[:10], 16)),
            "pci_bus_id": "00000000:18:00.0"}, separators=(",", ":"))

    gpu_dir = landing / "gpu_telemetry"
    future_lines: set[str] = set()
    held_back: dict[str, list[str]] = {}

    def write_batch(day: date, node: str, batch_id: str, lines: list[str], key=None) -> bytes:
        data = ("\n".join(lines) + "\n").encode()
        if key is not None:  # the whole batch is rejected
            book.rejections[("gpu_telemetry", "")] += len(lines)
        else:
            key = node_keys[node]
            book.rejections[("gpu_telemetry", "gpu_uuid")] += sum(unknown_uuid in x for x in lines)
            book.rejections[("gpu_telemetry", "temp_c")] += sum('"temp_c":150,' in x for x in lines)
            book.rejections[("gpu_telemetry", "ts")] += sum(x in future_lines for x in lines)
        path = gpu_dir / day.isoformat() / node / f"{batch_id}.jsonl"
        _write(path, data)
        _write(path.with_name(path.name + ".sig"),
               json.dumps(sign_batch(data, key.private_key)).encode())
        return data

    for day in window:
        for node in nodes:
            if node == offline_node and day in off_days:
                continue
            offset_h = 2 if (day == offset_day and node == "node-c") else 0
            lines_by_hour: dict[int, list[str]] = {}
            for h in range(spd):
                t = at(day, h)
                for uuid, n, _ in gpus:
                    if n != node or (uuid == gap_gpu and day == gap_day and h in gap_hours):
                        continue
                    lines_by_hour.setdefault(h, []).append(sample(uuid, node, t, offset_h))
                if node == "node-a" and day == unknown_day and h == 6:
                    lines_by_hour[h].append(sample(unknown_uuid, node, t))
                    # dated after its delivery day plus one (in either folder it lands in)
                    ahead = sample(gpus[0][0], node, t + timedelta(days=3), planted=False)
                    future_lines.add(ahead)
                    lines_by_hour[h].append(ahead)
            f["non_z_offset"] += offset_h != 0
            if day == unknown_day and node == "node-a":
                f["unknown_gpu"] += 1
                f["sample_dated_after_delivery"] += 1
            if hot[1] == day and any(u == hot[0] and n == node for u, n, _ in gpus):
                f["implausible_sample"] += 1
            hours = sorted(lines_by_hour)
            batch = f"{node}-{day.isoformat()}"
            lines = held_back.pop(node, []) + [x for h in hours for x in lines_by_hour[h]]
            if day == late_day and node == "node-b":  # the last hours arrive in the next folder
                cut = [x for h in hours[-3:] for x in lines_by_hour[h]]
                lines = lines[:len(lines) - len(cut)]
                held_back[node] = cut
                f["next_day_folder_samples"] += 1
            if day == foreign_day and node == foreign_node:  # the afternoon signed by a stranger
                half = [x for h in hours if h >= 12 for x in lines_by_hour[h]]
                lines = [x for x in lines if x not in half]
                write_batch(day, node, f"{batch}-pm", half, key=foreign_key)
                f["foreign_signature"] += 1
            write_batch(day, node, batch, lines)
            if day == redeliver_day and node == "node-a":  # the same batch again, next folder
                write_batch(day + timedelta(days=1), node, batch, lines)
                f["redelivered_batch"] += 1
    for node, lines in held_back.items():  # the window's last hours, delivered in its last folder
        write_batch(last_day, node, f"{node}-tail", lines)

    # ---- robot telemetry -----------------------------------------------------------
    counters = {r: {"operating_s": rng.randint(10**5, 10**7), "cleaning_s": rng.randint(10**5, 10**6),
                    "area_cleaned_m2": rng.randint(10**4, 10**6), "distance_m": 1000.0, "water_l": 10.0}
                for r, _ in robots}
    seq = {r: rng.randint(1, 10**5) for r, _ in robots}
    robot_off = (robots[-1][0], {pick(window[2:-10]) + timedelta(days=i) for i in range(rng.randint(2, 8))})
    f["robot_offline_days"] += len(robot_off[1])
    robot_reset = (pick(robots)[0], pick(window[1:]), pick(ROBOT_REPORT_HOURS))
    f["robot_counter_reset"] += 1
    error_days = dict(zip(rng.sample(window, 3), ("WARNING", "CRITICAL", "FATAL")))
    errored_robot = robots[0][0]
    robot_dup_day = pick(window[:-1])
    unknown_robot_day = pick(window)
    for level in error_days.values():
        f[f"robot_{level.lower()}"] += 1
    for day in window:
        per_fleet: dict[str, list[str]] = {}
        for rid, fleet in robots:
            if rid == robot_off[0] and day in robot_off[1]:
                continue
            for k, h in enumerate(ROBOT_REPORT_HOURS):
                c = counters[rid]
                work = rng.randint(0, 8 * 3600)
                c["operating_s"] += work
                c["cleaning_s"] += work * rng.randint(50, 90) // 100
                c["area_cleaned_m2"] += work // 30
                if (rid, day, h) == robot_reset:
                    c.update(operating_s=rng.randint(0, 100), cleaning_s=0, area_cleaned_m2=0)
                seq[rid] += 1
                errors = []
                level = error_days.get(day)
                if rid == errored_robot and level and (level != "WARNING" or k == 1):
                    errors = [{"code": f"E-{rng.randint(100, 999)}", "level": level,
                               "since": iso_z(at(day, h) - timedelta(minutes=5))}]
                per_fleet.setdefault(fleet, []).append(json.dumps({
                    "robot_id": rid, "ts": iso_z(at(day, h)), "seq": seq[rid],
                    "mode": pick(MODES), "task": {"task_id": f"t-{seq[rid]}", "status": "RUNNING",
                                                  "completion_pct": rng.randint(0, 100)},
                    "battery": {"soc_pct": float(rng.randint(10, 100)), "charging": False,
                                "voltage_v": 25.1},
                    "position": {"map_id": "mall-1f", "x_m": 1.0, "y_m": 2.0, "theta_rad": 0.5,
                                 "localized": True},
                    "counters": dict(c), "errors": errors}, separators=(",", ":")))
        if day == unknown_robot_day:
            per_fleet.setdefault("fleet-a", []).append(json.dumps({
                "robot_id": "PM-UNKNOWN-1", "ts": iso_z(at(day, 3)), "seq": 1, "mode": "IDLE",
                "counters": {"operating_s": 1, "cleaning_s": 0, "area_cleaned_m2": 0}, "errors": []}))
            f["unknown_robot"] += 1
        for fleet, lines in per_fleet.items():
            data = ("\n".join(lines) + "\n").encode()
            copies = 2 if day == robot_dup_day else 1
            book.rejections[("robot_telemetry", "robot_id")] += copies * sum(
                "PM-UNKNOWN-1" in x for x in lines)
            _write(landing / "robot_telemetry" / day.isoformat() / fleet / f"robots-{day.isoformat()}.jsonl", data)
            if day == robot_dup_day:
                nxt = (day + timedelta(days=1)).isoformat()
                _write(landing / "robot_telemetry" / nxt / fleet / f"robots-{day.isoformat()}-again.jsonl", data)
                f["robot_redelivered"] += 1
    f["robot_no_errors"] += len(robots) - 1
    return book
