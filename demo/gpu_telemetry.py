"""Simulated NVML telemetry of the financed GPU nodes, and its signed daily batches.

Shapes follow a real H100 probe (tests/fixtures/nvml/h100_probe.json): utilisation with a
day/night pattern in the site's local time, power between idle (~70 W) and the 700 W limit
following utilisation, a monotonic energy counter in mJ that integrates power over the
interval, temperature following power, SM clock capped at 1980 MHz.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from eth_account import Account
from eth_account.messages import encode_defunct

from demo.book import MEM_TOTAL_MIB, DemoBook, Node
from demo.keys import derive_test_key

BILLABLE_UTIL_PCT = 20  # a GPU-hour with at least this utilisation is billed on demand


@dataclass
class GpuSimulation:
    gpu_ids: list[str]
    gpu_node: list[int]  # index into book.nodes
    samples_per_day: int
    util: np.ndarray  # (G, T) int
    present: np.ndarray  # (G, T) bool: sample written
    power: np.ndarray  # (G, T) float, 0.1 W
    energy: np.ndarray  # (G, T) int64, mJ
    temp: np.ndarray
    sm_clock: np.ndarray
    mem_util: np.ndarray
    mem_used: np.ndarray
    xid: np.ndarray
    node_offset_s: list[int]

    def up_hours(self, gpu_rows: list[int], day_idx: int) -> float:
        """GPU-hours with a sample on that day for the given GPUs."""
        s = slice(day_idx * self.samples_per_day, (day_idx + 1) * self.samples_per_day)
        return float(self.present[gpu_rows, s].sum()) * 24 / self.samples_per_day

    def billable_hours(self, gpu_rows: list[int], day_idx: int) -> float:
        s = slice(day_idx * self.samples_per_day, (day_idx + 1) * self.samples_per_day)
        ok = self.present[gpu_rows, s] & (self.util[gpu_rows, s] >= BILLABLE_UTIL_PCT)
        return float(ok.sum()) * 24 / self.samples_per_day


def simulate_gpus(book: DemoBook) -> GpuSimulation:
    rng = np.random.default_rng([book.seed, 2])
    spd = 86400 // book.sample_interval_s
    T = spd * book.days
    gpu_ids: list[str] = []
    gpu_node: list[int] = []
    for ni, node in enumerate(book.nodes):
        gpu_ids.extend(node.gpu_ids)
        gpu_node.extend([ni] * len(node.gpu_ids))
    G = len(gpu_ids)
    node_arr = np.array(gpu_node, dtype=np.int64)
    offsets = [int(hashlib.sha256(n.node_id.encode()).digest()[0]) % 45 for n in book.nodes]

    k = np.arange(T)
    utc_hour = (k * book.sample_interval_s) / 3600.0 % 24
    day_of = k // spd
    weekday = np.array([(book.first_day + timedelta(days=d)).weekday() for d in range(book.days)])[day_of]
    weekend = weekday >= 5
    tz = np.array([book.nodes[i].utc_offset_h for i in gpu_node], dtype=float)[:, None]
    base = np.array([book.nodes[i].base_util for i in gpu_node])[:, None]
    gpu_bias = rng.normal(0, 0.06, size=(G, 1))
    local = (utc_hour[None, :] + tz) % 24
    diurnal = 0.12 * np.sin(2 * np.pi * (local - 9) / 24)
    noise = rng.normal(0, 0.07, size=(G, T))
    idle = rng.random((G, T)) < 0.04  # jobs finishing: idle hours
    u = base + gpu_bias + diurnal - 0.05 * weekend[None, :] + noise
    u = np.where(idle, rng.uniform(0, 0.03, size=(G, T)), u)
    util = np.clip(np.rint(u * 100), 0, 100).astype(np.int64)

    power = 70 + 630 * (util / 100.0) ** 0.85 + rng.normal(0, 12, size=(G, T))
    power = np.round(np.clip(power, 62, 700), 1)
    step_mj = np.rint(power * book.sample_interval_s * 1000).astype(np.int64)
    e0 = rng.integers(10**9, 6 * 10**11, size=(G, 1), dtype=np.int64)
    energy = e0 + np.cumsum(step_mj, axis=1)

    ambient = np.array([book.nodes[i].ambient_c for i in gpu_node])[:, None]
    temp = np.rint(29 + ambient + 0.42 * util + rng.normal(0, 1.5, size=(G, T))).astype(np.int64)
    throttle = rng.integers(0, 16, size=(G, T)) * 15
    sm = np.where(util < 3, 345, np.where(util > 90, 1980 - throttle, 1980)).astype(np.int64)
    sm = np.minimum(sm, 1980)
    mem_util = np.clip(np.rint(util * 0.68 + rng.normal(0, 3, size=(G, T))), 0, 100).astype(np.int64)
    mem_total = np.array([MEM_TOTAL_MIB[book.nodes[i].model] for i in gpu_node])[:, None]
    mem_frac = np.clip(0.35 + 0.6 * util / 100 + rng.normal(0, 0.03, size=(G, T)), 0.006, 0.97)
    # an idle GPU uses 0 MiB as the agent reads it (NVML v2: the driver's reservation apart)
    mem_used = np.where(util < 3, 0, np.rint(mem_total * mem_frac)).astype(np.int64)
    xid = np.zeros((G, T), dtype=np.int64)
    present = np.ones((G, T), dtype=bool)

    inc = book.incidents
    index = {g: i for i, g in enumerate(gpu_ids)}
    if inc.offline_node:
        ni = next(i for i, n in enumerate(book.nodes) if n.node_id == inc.offline_node)
        rows = np.where(node_arr == ni)[0]
        for d in inc.offline_days:
            present[rows, d * spd:(d + 1) * spd] = False
        # the node was power-cycled: its counters restart from 0 when it comes back
        back = (inc.offline_days[-1] + 1) * spd
        if back < T:
            energy[rows, back:] = np.cumsum(step_mj[rows, back:], axis=1)
    if inc.counter_reset_gpu and inc.counter_reset_day < book.days:
        r = index[inc.counter_reset_gpu]
        at = inc.counter_reset_day * spd + (10 * spd) // 24  # driver reload at 10:00 UTC
        energy[r, at:] = np.cumsum(step_mj[r, at:])
    if inc.degraded_gpu and inc.degraded_day < book.days:
        r = index[inc.degraded_gpu]
        start = inc.degraded_day * spd + (9 * spd) // 24
        stop = inc.degraded_day * spd + (19 * spd) // 24  # fell off the bus 09:00-19:00 UTC
        xid[r, start - 1] = 79
        present[r, start:stop] = False
        energy[r, stop:] = np.cumsum(step_mj[r, stop:])  # driver reloaded
    return GpuSimulation(gpu_ids, gpu_node, spd, util, present, power, energy, temp, sm,
                         mem_util, mem_used, xid, offsets)


def render_batch(book: DemoBook, sim: GpuSimulation, node_index: int, day_idx: int,
                 rows: list[int]) -> bytes:
    """One node-day batch: JSON Lines ordered by ts, then GPU slot. Empty bytes if no sample."""
    node: Node = book.nodes[node_index]
    assets = {a.asset_id: a for a in book.assets if a.node_id == node.node_id}
    spd = sim.samples_per_day
    s = slice(day_idx * spd, (day_idx + 1) * spd)
    day0 = datetime(book.first_day.year, book.first_day.month, book.first_day.day,
                    tzinfo=timezone.utc) + timedelta(days=day_idx, seconds=sim.node_offset_s[node_index])
    ts = [(day0 + timedelta(seconds=j * book.sample_interval_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
          for j in range(spd)]
    cols = []
    for r in rows:
        a = assets[sim.gpu_ids[r]]
        head = f'","node_id":"{node.node_id}","gpu_uuid":"{a.asset_id}","gpu_util_pct":'
        tail = f',"ecc_dbe_count":0,"serial":"{a.serial}","pci_bus_id":"{a.pci_bus_id}"}}\n'
        cols.append((head, tail, sim.present[r, s].tolist(), sim.util[r, s].tolist(),
                     sim.mem_util[r, s].tolist(), sim.mem_used[r, s].tolist(), sim.power[r, s].tolist(),
                     sim.energy[r, s].tolist(), sim.temp[r, s].tolist(), sim.sm_clock[r, s].tolist(),
                     sim.xid[r, s].tolist()))
    out: list[str] = []
    for j in range(spd):
        t = ts[j]
        for head, tail, pr, u, mu, mm, p, e, tc, sm, x in cols:
            if pr[j]:
                out.append(f'{{"ts":"{t}{head}{u[j]},"mem_util_pct":{mu[j]},"mem_used_mib":{mm[j]},'
                           f'"power_w":{p[j]:.1f},"energy_mj":{e[j]},"temp_c":{tc[j]},'
                           f'"sm_clock_mhz":{sm[j]},"xid_errors":{x[j]}{tail}')
    return "".join(out).encode()


def sign_batch(data: bytes, key_name: str) -> bytes:
    """The `.sig` JSON of DATA_CONTRACTS.md: EIP-191 signature of the batch's sha256 digest."""
    key = derive_test_key(key_name)
    digest = hashlib.sha256(data).digest()
    signed = Account.sign_message(encode_defunct(primitive=digest), key.private_key)
    sig = "0x" + bytes(signed.signature).hex()
    return json.dumps({"signer": key.address.lower(), "sha256": digest.hex(), "signature": sig},
                      separators=(",", ":")).encode()
