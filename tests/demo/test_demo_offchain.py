"""The demo generator: deterministic files, a realistic registry, verifiable telemetry."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from demo import build_book, generate_offchain

END_DAY = date(2026, 3, 5)
COUNTRIES = {"TH", "TW", "SG", "HK", "JP", "US", "CA", "NO", "IS", "DK"}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-small")
    generate_offchain(root, END_DAY, days=16, progress=False, scale=0.15)
    return root


def test_two_generations_are_byte_identical(small: Path, tmp_path: Path) -> None:
    generate_offchain(tmp_path, END_DAY, days=16, progress=False, scale=0.15)
    assert _tree(tmp_path) == _tree(small)


def test_rerun_leaves_existing_files_untouched(small: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in small.rglob("*") if p.is_file()}
    generate_offchain(small, END_DAY, days=16, progress=False, scale=0.15)
    after = {p: p.stat().st_mtime_ns for p in small.rglob("*") if p.is_file()}
    assert after == before


def test_another_seed_gives_other_gpu_ids() -> None:
    a = build_book(END_DAY, days=2, seed=7, scale=0.1)
    b = build_book(END_DAY, days=2, seed=8, scale=0.1)
    assert {x.asset_id for x in a.assets if x.asset_type == "gpu"}.isdisjoint(
        {x.asset_id for x in b.assets if x.asset_type == "gpu"})


def test_full_book_registry_is_realistic(tmp_path: Path) -> None:
    """The default book: >= 10 providers in the target countries, >= 12 GPU deals of both
    structures, ~30 M USD principal over ~1,000 GPUs, ~100 robots, >= 1.3x collateral."""
    book = build_book(END_DAY, days=2)
    countries = {p.country for p in book.providers}
    assert COUNTRIES <= countries and len(book.providers) >= 11
    gpu_deals = [d for d in book.deals if d.asset_class == "gpu"]
    assert len(gpu_deals) >= 12
    assert {d.spec.structure for d in gpu_deals} == {"fixed_rate", "revenue_share"}
    for d in gpu_deals:
        if d.spec.structure == "fixed_rate":
            assert Decimal("0.09") <= Decimal(d.spec.fixed_apr) <= Decimal("0.14")
        else:
            assert Decimal("0.50") <= Decimal(d.spec.revenue_share_pct) <= Decimal("0.70")
            assert Decimal("1.2") <= Decimal(d.spec.target_multiple) <= Decimal("1.35")
            assert Decimal("0.05") <= Decimal(d.spec.tail_share_pct) <= Decimal("0.15")
        assert 364 <= (d.maturity_date - d.funded_date).days <= 3 * 366
        assert d.funded_date == book.first_day  # a 2-day window funds everything on day 1
    total = sum(d.principal_usd for d in book.deals)
    assert Decimal(25_000_000) <= total <= Decimal(35_000_000)
    gpus = [a for a in book.assets if a.asset_type == "gpu"]
    robots = [a for a in book.assets if a.asset_type == "robot"]
    assert 900 <= len(gpus) <= 1300 and len(robots) == 100
    assert {a.model for a in gpus} == {"H100-SXM5-80GB", "H200-SXM5-141GB"}
    for a in gpus:
        low, high = (25_000, 30_000) if a.model.startswith("H100") else (32_000, 38_000)
        assert low <= a.purchase_price_usd <= high
    # collateral at funding, recomputed here from the METHODOLOGY 2 formula
    for d in book.deals:
        fair = Decimal(0)
        for a in (x for x in book.assets if x.deal_id == d.deal_id):
            age = (d.funded_date - a.acquired_date).days
            bv = a.purchase_price_usd * max(Decimal("0.1"), 1 - Decimal("0.9") * age / 1825)
            fair += bv * book.market_index(a.model, d.funded_date)
        assert fair / d.principal_usd >= Decimal("1.3"), d.deal_id
        assert Decimal("0.70") <= d.principal_usd / fair <= Decimal("0.75"), d.deal_id


def test_registry_files_follow_the_data_contract(small: Path) -> None:
    reg = small / "registry"
    assert list(_rows(reg / "providers.csv")[0]) == ["provider_id", "name", "country",
                                                    "nvidia_cloud_partner", "onboarded_date"]
    deals = _rows(reg / "deals.csv")
    for d in deals:
        if d["structure"] == "fixed_rate":
            assert d["fixed_apr"] and not d["revenue_share_pct"] and not d["payment_lag_days"]
        else:
            assert not d["fixed_apr"] and d["payment_lag_days"] == "15"
    params = {r["name"]: r["value"] for r in _rows(reg / "params.csv")}
    assert params["inception_date"] == min(d["funded_date"] for d in deals) == "2026-02-18"
    assert params["sample_interval_s"] == "3600" and params["confirmations"] == "2"
    roles = [r["role"] for r in _rows(reg / "addresses.csv")]
    assert roles.count("collection") == len(deals)
    assert {"treasury", "fee_recipient", "excluded"} <= set(roles)
    collections = [r["address"] for r in _rows(reg / "addresses.csv") if r["role"] == "collection"]
    assert sorted(collections) == sorted(d["collection_address"] for d in deals)
    assert len(set(collections)) == len(collections)


def test_addresses_keep_rows_added_by_deployment(small: Path) -> None:
    path = small / "registry" / "addresses.csv"
    original = path.read_bytes()
    with_contracts = original + b"31337,usdc,0x00000000000000000000000000000000000000aa,Mock USDC\n"
    path.write_bytes(with_contracts)
    try:
        generate_offchain(small, END_DAY, days=16, progress=False, scale=0.15)
        assert path.read_bytes() == with_contracts
    finally:
        path.write_bytes(original)


def test_every_gpu_batch_signature_recovers_its_node_address(small: Path) -> None:
    node_address = {r["node_id"]: r["node_address"] for r in _rows(small / "registry" / "assets.csv")
                    if r["asset_type"] == "gpu"}
    batches = sorted((small / "landing" / "gpu_telemetry").rglob("*.jsonl"))
    assert batches
    for batch in batches:
        data = batch.read_bytes()
        sig = json.loads(Path(str(batch) + ".sig").read_bytes())
        digest = hashlib.sha256(data).digest()
        assert sig["sha256"] == digest.hex()
        signer = Account.recover_message(encode_defunct(primitive=digest), signature=sig["signature"])
        node = batch.parent.name
        assert signer.lower() == sig["signer"] == node_address[node]
        assert batch.name == f"{node}-{batch.parent.parent.name}.jsonl"


def test_gpu_samples_are_physically_plausible(small: Path) -> None:
    last_energy: dict[str, int] = {}
    resets = 0
    for batch in sorted((small / "landing" / "gpu_telemetry").rglob("*.jsonl")):
        for line in batch.read_text().splitlines():
            s = json.loads(line)
            assert s["ts"].endswith("Z") and s["gpu_uuid"].startswith("GPU-")
            assert 0 <= s["gpu_util_pct"] <= 100 and 60 <= s["power_w"] <= 700
            assert 10 <= s["temp_c"] <= 95 and s["sm_clock_mhz"] <= 1980
            prev = last_energy.get(s["gpu_uuid"])
            if prev is not None and s["energy_mj"] < prev:
                resets += 1
            elif prev is not None:
                # energy delta = power x 3600 s (mJ), within the power range of the hour
                assert 60 * 3600 * 1000 <= s["energy_mj"] - prev <= 700 * 3600 * 1000 * 2
            last_energy[s["gpu_uuid"]] = s["energy_mj"]
    assert resets >= 1  # the counter-reset incident


def test_offline_node_sends_nothing_for_several_days(small: Path) -> None:
    book = build_book(END_DAY, days=16, scale=0.15)
    node = book.incidents.offline_node
    assert node is not None and len(book.incidents.offline_days) >= 3
    for d in book.incidents.offline_days:
        day = (book.first_day + timedelta(days=d)).isoformat()
        assert not (small / "landing" / "gpu_telemetry" / day / node).exists()


def test_invoice_usage_never_exceeds_gpu_hours_up(small: Path) -> None:
    """On-demand (arrears) invoices bill at most the GPU-hours the telemetry shows up."""
    deal_of = {r["asset_id"]: r["deal_id"] for r in _rows(small / "registry" / "assets.csv")}
    up: dict[tuple[str, str], int] = {}
    for batch in (small / "landing" / "gpu_telemetry").rglob("*.jsonl"):
        for line in batch.read_text().splitlines():
            s = json.loads(line)
            key = (deal_of[s["gpu_uuid"]], s["ts"][:10])
            up[key] = up.get(key, 0) + 1  # one sample = one GPU-hour at 3600 s
    invoices = []
    for f in (small / "landing" / "invoices").rglob("*"):
        if f.suffix == ".csv":
            invoices += _rows(f)
        elif f.suffix == ".jsonl":
            invoices += [json.loads(x) for x in f.read_text().splitlines()]
    arrears = [i for i in invoices if i["issue_date"] > i["period_end"]]
    assert arrears
    for inv in arrears:
        start, end = date.fromisoformat(inv["period_start"]), date.fromisoformat(inv["period_end"])
        hours = sum(up.get((inv["deal_id"], (start + timedelta(days=k)).isoformat()), 0)
                    for k in range((end - start).days + 1))
        assert Decimal(str(inv["usage_hours"])) <= hours, inv["invoice_id"]


def test_robot_counters_only_grow(small: Path) -> None:
    last: dict[str, int] = {}
    levels = set()
    for f in sorted((small / "landing" / "robot_telemetry").rglob("*.jsonl")):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            assert r["counters"]["operating_s"] > last.get(r["robot_id"], -1)
            last[r["robot_id"]] = r["counters"]["operating_s"]
            levels |= {e["level"] for e in r["errors"]}
    assert "CRITICAL" in levels
