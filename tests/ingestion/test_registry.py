from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingestion.registry import RegistryError, load_registry

from tests.ingestion.ingestion_fixtures import GPU_A, GPU_B, TEST_ADDR


def test_valid_registry_fills_parameter_defaults(con, registry_dir):
    reg = load_registry(con, registry_dir)
    # inception_date defaults to the earliest funded_date (D-B, 2026-01-05)
    assert reg.params.inception_date == date(2026, 1, 5)
    assert reg.params.sample_interval_s == 3600
    params = dict(con.execute("select name, value from raw.params").fetchall())
    assert params == {
        "inception_date": "2026-01-05", "sample_interval_s": "3600",
        "protocol_fee_apr": "0.0025", "performance_fee_pct": "0.15", "recovery_rate": "0.70",
        "daily_rewards_budget_gaib": "10000", "max_share_price_move_bps": "100",
        "confirmations": "12", "start_block": "0"}
    assert reg.deal("D-A").fixed_apr == Decimal("0.10")
    assert reg.node_address("node-t") == TEST_ADDR
    assert reg.asset(GPU_A).deal_id == "D-A"
    assert reg.addresses_by_role("usdc") == ("0x5500000000000000000000000000000000000001",)
    assert con.execute("select count(*) from raw.assets").fetchall() == [(3,)]


def test_worked_example_registry(con, worked_example_input):
    reg = load_registry(con, worked_example_input / "registry")
    assert len(reg.deals) == 3 and len(reg.assets) == 11
    assert reg.params.inception_date == date(2026, 1, 25)
    assert reg.node_address("node-n2") == "0xe27be68f637180378f2d77fe934b42ed0786a30e"
    assert len(reg.addresses_by_role("collection")) == 3


def test_reload_replaces_tables(con, registry_dir):
    load_registry(con, registry_dir)
    p = registry_dir / "price_index.csv"
    p.write_text(p.read_text() + "H100,2026-02-01,0.95\n")
    load_registry(con, registry_dir)
    assert con.execute("select count(*) from raw.price_index").fetchall() == [(2,)]


def _edit(registry_dir, name, old, new):
    p = registry_dir / name
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("name, old, new, line, field, expected", [
    ("deals.csv", "D-A,P-A,gpu", "D-A,P-X,gpu", 2, "provider_id", "provider_id of providers.csv"),
    ("deals.csv", "D-A,P-A,gpu,fixed_rate", "D-A,P-A,gpu,fixed", 2, "structure",
     "fixed_rate|revenue_share"),
    ("deals.csv", "D-A,P-A,gpu", "D-A,P-A,cpu", 2, "asset_class", "gpu|robot"),
    ("deals.csv", "1000,2026-01-10", "1000,2026-02-30", 2, "funded_date", "date"),
    ("deals.csv", "1000,2026-01-10", "1k,2026-01-10", 2, "principal_usd", "decimal"),
    ("deals.csv", "D-B,P-B", "D-A,P-B", 3, "deal_id", "unique"),
    ("deals.csv", ",0.60,1.25", ",,1.25", 3, "revenue_share_pct", "non-empty"),
    ("assets.csv", ",D-A,gpu", ",D-Z,gpu", 2, "deal_id", "deal_id of deals.csv"),
    ("assets.csv", ",D-A,gpu", ",D-A,tpu", 2, "asset_type", "gpu|robot"),
    ("assets.csv", TEST_ADDR, "0x1234", 2, "node_address", "20-byte hex address"),
    ("assets.csv", TEST_ADDR, TEST_ADDR[:-1] + "g", 2, "node_address", "hex address"),
    ("addresses.csv", ",usdc,", ",usd,", 2, "role", "usdc|aid"),
    ("providers.csv", "TH,true", "TH,yes", 2, "nvidia_cloud_partner", "true or false"),
    ("params.csv", "sample_interval_s,3600", "sample_interval_s,1h", 2, "value", "integer"),
    ("params.csv", "sample_interval_s,3600", "sample_intervals,3600", 2, "name", "one of"),
    ("price_index.csv", "model,as_of", "model,asof", 1, "as_of", "header"),
])
def test_registry_error_names_file_line_field(con, registry_dir, name, old, new, line, field,
                                              expected):
    _edit(registry_dir, name, old, new)
    with pytest.raises(RegistryError) as e:
        load_registry(con, registry_dir)
    assert (e.value.file, e.value.line, e.value.field) == (name, line, field)
    assert expected in str(e.value) and name in str(e.value) and f"line {line}" in str(e.value)


def test_registry_error_leaves_tables_unchanged(con, registry_dir):
    load_registry(con, registry_dir)
    _edit(registry_dir, "assets.csv", ",D-A,gpu", ",D-Z,gpu")
    with pytest.raises(RegistryError):
        load_registry(con, registry_dir)
    assert con.execute("select count(*) from raw.assets").fetchall() == [(3,)]


def test_checksummed_address_is_lower_cased_and_bad_checksum_rejected(con, registry_dir):
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 example
    _edit(registry_dir, "addresses.csv", "0x5500000000000000000000000000000000000001", good)
    reg = load_registry(con, registry_dir)
    assert reg.addresses[0].address == good.lower()
    _edit(registry_dir, "addresses.csv", good, good.replace("aA", "Aa"))
    with pytest.raises(RegistryError, match="checksum"):
        load_registry(con, registry_dir)


def test_decimals_of_mixed_scales_are_stored_as_decimal_38_18(con, registry_dir):
    # one column holding a 20-digit integer part, an exponent, a value past 18 decimals
    # (rounded half away from zero, as DuckDB rounds a decimal into decimal(38,18)) and an
    # empty optional field: stored as written, to the 18th decimal
    _edit(registry_dir, "assets.csv", "H100,26000,2025-12-01,1825,0.10,node-t",
          "H100,12345678901234567890.5,2025-12-01,1825,0.0000000000000000015,node-t")
    _edit(registry_dir, "assets.csv", f"{GPU_B},D-A,gpu,H100,26000",
          f"{GPU_B},D-A,gpu,H100,2.6E+4")
    load_registry(con, registry_dir)
    rows = con.execute("select purchase_price_usd, residual_pct from raw.assets "
                       "order by asset_id").fetchall()
    assert rows == [(Decimal("12345678901234567890.5"), Decimal("0.000000000000000002")),
                    (Decimal("26000"), Decimal("0.10")),
                    (Decimal("20000"), Decimal("0.10"))]
    assert con.execute("select typeof(purchase_price_usd) from raw.assets limit 1"
                       ).fetchall() == [("DECIMAL(38,18)",)]
