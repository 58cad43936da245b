"""Synthetic registry, keys and delivery builders shared by the ingestion tests (test-only
keys)."""

from __future__ import annotations

import json

from eth_account import Account
from eth_utils import keccak

from ingestion.nvml.signature import sign_batch

TEST_KEY = keccak(text="aidnav-test-node-key")          # deterministic, test only
OTHER_KEY = keccak(text="aidnav-test-intruder-key")     # deterministic, test only
TEST_ADDR = Account.from_key(TEST_KEY).address.lower()
GPU_A = "GPU-00000000-0000-0000-0000-00000000000a"
GPU_B = "GPU-00000000-0000-0000-0000-00000000000b"

REGISTRY_FILES = {
    "providers.csv": "provider_id,name,country,nvidia_cloud_partner,onboarded_date\n"
                     "P-A,Provider A,TH,true,2025-01-01\nP-B,Provider B,SG,false,2025-01-01\n",
    "deals.csv": "deal_id,provider_id,asset_class,structure,principal_usd,funded_date,"
                 "maturity_date,fixed_apr,revenue_share_pct,target_multiple,tail_share_pct,"
                 "payment_lag_days,min_collateral_ratio,provider_address,collection_address\n"
                 "D-A,P-A,gpu,fixed_rate,1000,2026-01-10,2027-01-10,0.10,,,,,1.30,,\n"
                 "D-B,P-B,gpu,revenue_share,500,2026-01-05,2027-01-05,,0.60,1.25,0.10,15,1.30,,\n"
                 "D-R,P-B,robot,fixed_rate,300,2026-01-20,2027-01-20,0.12,,,,,1.30,,\n",
    "assets.csv": "asset_id,deal_id,asset_type,model,purchase_price_usd,acquired_date,"
                  "useful_life_days,residual_pct,node_id,node_address,site\n"
                  f"{GPU_A},D-A,gpu,H100,26000,2025-12-01,1825,0.10,node-t,{TEST_ADDR},X\n"
                  f"{GPU_B},D-A,gpu,H100,26000,2025-12-01,1825,0.10,node-t,{TEST_ADDR},X\n"
                  "R-1,D-R,robot,PM-CR-3,20000,2025-07-01,1825,0.10,fleet-1,,Y\n",
    "price_index.csv": "model,as_of,market_index\nH100,2026-01-01,1.00\n",
    "offchain_reserves.csv": "as_of,amount_usd,description\n",
    "addresses.csv": "chain_id,role,address,label\n"
                     "31337,usdc,0x5500000000000000000000000000000000000001,USDC\n",
    "params.csv": "name,value\nsample_interval_s,3600\n",
}


def sample(gpu=GPU_A, ts="2026-02-01T00:00:00Z", **over):
    s = {"ts": ts, "node_id": "node-t", "gpu_uuid": gpu, "gpu_util_pct": 87,
         "mem_util_pct": 55, "mem_used_mib": 61234, "power_w": 612.5, "energy_mj": 123456789,
         "temp_c": 64, "sm_clock_mhz": 1980, "xid_errors": 0, "ecc_dbe_count": 0,
         "serial": "1654922001234", "pci_bus_id": "00000000:18:00.0"}
    s.update(over)
    return {k: v for k, v in s.items() if v is not ...}


def write_batch(landing, name, lines, key=TEST_KEY, node="node-t", day="2026-02-01",
                sig_override=None):
    d = landing / "gpu_telemetry" / day / node
    d.mkdir(parents=True, exist_ok=True)
    data = b"".join((x if isinstance(x, bytes) else
                     (x if isinstance(x, str) else json.dumps(x)).encode()) + b"\n"
                    for x in lines)
    (d / f"{name}.jsonl").write_bytes(data)
    sig = sign_batch(data, key)
    if isinstance(sig_override, dict):
        sig.update(sig_override)
    if sig_override != "nosig":
        (d / f"{name}.jsonl.sig").write_text(json.dumps(sig))
    return d / f"{name}.jsonl"


def rec(robot="R-1", ts="2026-02-01T00:00:00Z", counters=None, **over):
    r = {"robot_id": robot, "ts": ts, "seq": 1, "mode": "CLEANING",
         "counters": counters if counters is not None else
         {"operating_s": 100, "cleaning_s": 50, "area_cleaned_m2": 12.5, "distance_m": 1},
         "errors": [{"code": "E-1", "level": "CRITICAL", "since": ts}]}
    r.update(over)
    return json.dumps(r)
