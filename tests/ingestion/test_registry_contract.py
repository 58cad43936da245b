"""The registry accepts every cell the data contract lets be empty, fills its default in
one place, and refuses a collection address that addresses.csv does not list as one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingestion.registry import RegistryError, load_registry

COLLECTION_A = "0xc0000000000000000000000000000000000000a1"
COLLECTION_B = "0xc0000000000000000000000000000000000000b1"


def _write(registry_dir, name, text):
    (registry_dir / name).write_text(text)


def _deals(*rows: str) -> str:
    return ("deal_id,provider_id,asset_class,structure,principal_usd,funded_date,"
            "maturity_date,fixed_apr,revenue_share_pct,target_multiple,tail_share_pct,"
            "payment_lag_days,min_collateral_ratio,provider_address,collection_address\n"
            + "".join(r + "\n" for r in rows))


def _addresses(*rows: str) -> str:
    return "chain_id,role,address,label\n" + "".join(r + "\n" for r in rows)


def test_empty_optional_deal_cells_take_the_contract_defaults(con, registry_dir):
    _write(registry_dir, "deals.csv", _deals(
        "D-A,P-A,gpu,fixed_rate,1000,2026-01-10,2027-01-10,0.10,,,,,,,",
        "D-B,P-B,gpu,revenue_share,500,2026-01-05,2027-01-05,,0.60,1.25,0.10,,,,",
        "D-R,P-B,robot,fixed_rate,300,2026-01-20,2027-01-20,0.12,,,,7,1.5,,"))
    reg = load_registry(con, registry_dir)
    # the contract: payment_lag_days 15 and min_collateral_ratio 1.30 when left empty
    assert (reg.deal("D-B").payment_lag_days, reg.deal("D-B").min_collateral_ratio) \
        == (15, Decimal("1.30"))
    assert (reg.deal("D-A").payment_lag_days, reg.deal("D-A").min_collateral_ratio) \
        == (15, Decimal("1.30"))
    assert (reg.deal("D-R").payment_lag_days, reg.deal("D-R").min_collateral_ratio) \
        == (7, Decimal("1.5"))
    # the warehouse holds the filled-in values, so no model applies a default again
    rows = con.execute("select deal_id, payment_lag_days, min_collateral_ratio from raw.deals "
                       "order by deal_id").fetchall()
    assert rows == [("D-A", 15, Decimal("1.3")), ("D-B", 15, Decimal("1.3")),
                    ("D-R", 7, Decimal("1.5"))]


def test_other_optional_cells_may_be_empty(con, registry_dir):
    _write(registry_dir, "providers.csv",
           "provider_id,name,country,nvidia_cloud_partner,onboarded_date\n"
           "P-A,Provider A,,TRUE,2025-01-01\nP-B,Provider B,,false,2025-01-01\n")
    _write(registry_dir, "offchain_reserves.csv",
           "as_of,amount_usd,description\n2026-01-01,100,\n")
    _write(registry_dir, "addresses.csv", _addresses(
        "31337,usdc,0x5500000000000000000000000000000000000001,"))
    reg = load_registry(con, registry_dir)
    assert reg.providers_by_id["P-A"].country is None
    assert reg.providers_by_id["P-A"].nvidia_cloud_partner is True
    assert reg.offchain_reserves[0].description is None
    assert reg.addresses[0].label is None


def test_a_target_multiple_of_zero_is_refused(con, registry_dir):
    # principal is returned at 1/target_multiple per unit of share: zero has no meaning
    _write(registry_dir, "deals.csv", _deals(
        "D-B,P-B,gpu,revenue_share,500,2026-01-05,2027-01-05,,0.60,0,0.10,,,,"))
    _write(registry_dir, "assets.csv", "asset_id,deal_id,asset_type,model,purchase_price_usd,"
           "acquired_date,useful_life_days,residual_pct,node_id,node_address,site\n")
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.file, e.value.line, e.value.field) == ("deals.csv", 2, "target_multiple")
    assert "> 0" in str(e.value)


def test_collection_address_must_be_a_registered_collection_address(con, registry_dir):
    _write(registry_dir, "deals.csv", _deals(
        "D-A,P-A,gpu,fixed_rate,1000,2026-01-10,2027-01-10,0.10,,,,,,," + COLLECTION_A,
        "D-B,P-B,gpu,revenue_share,500,2026-01-05,2027-01-05,,0.60,1.25,0.10,,,," + COLLECTION_B,
        "D-R,P-B,robot,fixed_rate,300,2026-01-20,2027-01-20,0.12,,,,,,,"))
    # B is listed, but as the treasury: not a collection row
    _write(registry_dir, "addresses.csv", _addresses(
        f"31337,collection,{COLLECTION_A},A", f"31337,treasury,{COLLECTION_B},B"))
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.file, e.value.line, e.value.field) == ("deals.csv", 3, "collection_address")
    assert "role collection" in str(e.value) and COLLECTION_B in str(e.value)

    _write(registry_dir, "addresses.csv", _addresses(
        f"31337,collection,{COLLECTION_A},A", f"31337,collection,{COLLECTION_B},B"))
    reg = load_registry(con, registry_dir)
    assert reg.deal("D-B").collection_address == COLLECTION_B


def test_one_collection_address_collects_for_one_deal(con, registry_dir):
    _write(registry_dir, "deals.csv", _deals(
        "D-A,P-A,gpu,fixed_rate,1000,2026-01-10,2027-01-10,0.10,,,,,,," + COLLECTION_A,
        "D-B,P-B,gpu,revenue_share,500,2026-01-05,2027-01-05,,0.60,1.25,0.10,,,," + COLLECTION_A,
        "D-R,P-B,robot,fixed_rate,300,2026-01-20,2027-01-20,0.12,,,,,,,"))
    _write(registry_dir, "addresses.csv", _addresses(f"31337,collection,{COLLECTION_A},A"))
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.line, e.value.field) == (3, "collection_address")
    assert "D-A" in str(e.value)


@pytest.mark.parametrize("row, field, expected", [
    ("D-A,P-A,gpu,fixed_rate,0,2026-01-10,2027-01-10,0.10,,,,,,,", "principal_usd", "> 0"),
    ("D-A,P-A,gpu,fixed_rate,1000,2026-01-10,2027-01-10,0.10,,,,,0.9,,", "min_collateral_ratio",
     ">= 1"),
])
def test_what_the_quality_suite_would_refuse_is_refused_at_the_registry(con, registry_dir, row,
                                                                       field, expected):
    # the deals suite blocks publishing on these: the registry names the cell instead
    _write(registry_dir, "deals.csv", _deals(
        row, "D-R,P-B,robot,fixed_rate,300,2026-01-20,2027-01-20,0.12,,,,,,,"))
    _write(registry_dir, "assets.csv", "asset_id,deal_id,asset_type,model,purchase_price_usd,"
           "acquired_date,useful_life_days,residual_pct,node_id,node_address,site\n")
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.line, e.value.field) == (2, field) and expected in str(e.value)
