"""The registry CSVs of DATA_CONTRACTS.md for the demo book."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from demo.book import RESIDUAL_PCT, USEFUL_LIFE_DAYS, DemoBook
from demo.keys import derive_test_key

CONTRACT_ROLES = ("usdc", "aid", "said", "gaib", "nav_oracle", "rewards_distributor")
TREASURY_KEY = "treasury"
FEE_RECIPIENT_KEY = "fee_recipient"
POOL_KEY = "said_liquidity_pool"
CONFIRMATIONS = 2


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue().encode()


def address_rows(book: DemoBook) -> list[list[object]]:
    """The non-contract roles: treasury, fee recipient, one collection per deal, excluded."""
    cid = book.chain_id
    rows: list[list[object]] = [
        [cid, "treasury", derive_test_key(TREASURY_KEY).address.lower(), "protocol treasury"],
        [cid, "fee_recipient", derive_test_key(FEE_RECIPIENT_KEY).address.lower(), "protocol fee recipient"],
    ]
    for d in book.deals:
        rows.append([cid, "collection", d.collection_address.lower(), f"collection {d.deal_id}"])
    rows.append([cid, "excluded", derive_test_key(POOL_KEY).address.lower(), "sAID liquidity pool (no incentives)"])
    return rows


def render_addresses(book: DemoBook, existing: Path | None) -> bytes | None:
    """addresses.csv with our rows, keeping the contract rows deployment added.

    Returns None when the existing file already holds exactly our non-contract rows (it is
    then left untouched, whatever order deployment wrote the contract rows in).
    """
    header = ["chain_id", "role", "address", "label"]
    ours = [[str(v) for v in r] for r in address_rows(book)]
    contract_rows: list[list[str]] = []
    if existing is not None and existing.exists():
        with existing.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        theirs = [r for r in rows if r and r[1] not in CONTRACT_ROLES]
        contract_rows = [r for r in rows if r and r[1] in CONTRACT_ROLES]
        if sorted(theirs) == sorted(ours):
            return None
    return _csv(header, ours + contract_rows)


def render_registry(book: DemoBook) -> dict[str, bytes]:
    """File name -> bytes for every registry file except addresses.csv."""
    files: dict[str, bytes] = {}
    files["providers.csv"] = _csv(
        ["provider_id", "name", "country", "nvidia_cloud_partner", "onboarded_date"],
        [[p.provider_id, p.name, p.country, "true" if p.nvidia_cloud_partner else "false",
          p.onboarded_date.isoformat()] for p in book.providers])
    deal_rows = []
    for d in book.deals:
        s = d.spec
        rs = s.structure == "revenue_share"
        deal_rows.append([d.deal_id, s.provider_id, d.asset_class, s.structure, d.principal_usd,
                          d.funded_date.isoformat(), d.maturity_date.isoformat(),
                          "" if rs else s.fixed_apr, s.revenue_share_pct if rs else "",
                          s.target_multiple if rs else "", s.tail_share_pct if rs else "",
                          15 if rs else "", d.min_collateral_ratio,
                          d.provider_address.lower(), d.collection_address.lower()])
    files["deals.csv"] = _csv(
        ["deal_id", "provider_id", "asset_class", "structure", "principal_usd", "funded_date",
         "maturity_date", "fixed_apr", "revenue_share_pct", "target_multiple", "tail_share_pct",
         "payment_lag_days", "min_collateral_ratio", "provider_address", "collection_address"], deal_rows)
    files["assets.csv"] = _csv(
        ["asset_id", "deal_id", "asset_type", "model", "purchase_price_usd", "acquired_date",
         "useful_life_days", "residual_pct", "node_id", "node_address", "site"],
        [[a.asset_id, a.deal_id, a.asset_type, a.model, a.purchase_price_usd, a.acquired_date.isoformat(),
          USEFUL_LIFE_DAYS, RESIDUAL_PCT, a.node_id, a.node_address, a.site] for a in book.assets])
    files["price_index.csv"] = _csv(["model", "as_of", "market_index"],
                                    [[m, a.isoformat(), v] for m, a, v in book.price_index])
    files["offchain_reserves.csv"] = _csv(["as_of", "amount_usd", "description"],
                                          [[a.isoformat(), v, t] for a, v, t in book.offchain_reserves])
    files["params.csv"] = _csv(["name", "value"], [
        ["inception_date", book.first_day.isoformat()],
        ["sample_interval_s", book.sample_interval_s],
        ["protocol_fee_apr", "0.0025"],
        ["performance_fee_pct", "0.15"],
        ["recovery_rate", "0.70"],
        ["daily_rewards_budget_gaib", "10000"],
        ["max_share_price_move_bps", "100"],
        ["confirmations", CONFIRMATIONS],
        ["start_block", 0],
    ])
    return files
