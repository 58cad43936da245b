"""The demo portfolio: providers, deals, assets, nodes and the incidents of the window.

Everything here is a pure function of (end_day, days, seed, sample_interval_s, scale):
the same arguments always give the same book, so the files written from it are
byte-identical from one run to the next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from demo.keys import derive_test_key
from ingestion.registry import Provider  # the registry row the demo writes

USEFUL_LIFE_DAYS = 1825
RESIDUAL_PCT = Decimal("0.10")
GPUS_PER_NODE = 8
PCI_BUS_IDS = ("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB")
MODEL_H100 = "H100-SXM5-80GB"
MODEL_H200 = "H200-SXM5-141GB"
MODEL_ROBOT = "PM-CR-3"
MEM_TOTAL_MIB = {MODEL_H100: 81559, MODEL_H200: 143771}
INDEX_DECLINE_PER_WEEK = {MODEL_H100: Decimal("0.004"), MODEL_H200: Decimal("0.003"),
                          MODEL_ROBOT: Decimal("0.002")}
DEFAULT_CHAIN_ID = 31337

# provider_id, name, country, nvidia_cloud_partner, onboarded (days before the window)
PROVIDERS: tuple[tuple[str, str, str, bool, int], ...] = (
    ("P-TH-SIAM", "Siam Compute Co., Ltd.", "TH", True, 410),
    ("P-TW-FORM", "Formosa GPU Cloud Corp.", "TW", True, 380),
    ("P-SG-LION", "Lion City AI Cloud Pte. Ltd.", "SG", True, 520),
    ("P-HK-HARB", "Harbour Compute Ltd.", "HK", False, 300),
    ("P-JP-SAKU", "Sakura Neocloud K.K.", "JP", True, 450),
    ("P-US-DESR", "Desert Ridge Compute LLC", "US", True, 600),
    ("P-CA-BORE", "Boreal GPU Cloud Inc.", "CA", False, 260),
    ("P-NO-FJRD", "Fjord Compute AS", "NO", True, 490),
    ("P-IS-GEYS", "Geysir Data Centers ehf.", "IS", False, 340),
    ("P-DK-NORD", "Nordlys AI Cloud ApS", "DK", True, 280),
    ("P-MY-KLEN", "KL Clean Robotics Sdn. Bhd.", "MY", False, 330),
)


@dataclass(frozen=True)
class DealSpec:
    deal_id: str
    provider_id: str
    structure: str  # fixed_rate | revenue_share
    model: str
    nodes: int  # GPU nodes (8 GPUs each); for the robot deal: robots
    site: str
    utc_offset_h: int
    ambient_c: int
    maturity_months: int
    fixed_apr: str = ""
    revenue_share_pct: str = ""
    target_multiple: str = ""
    tail_share_pct: str = ""
    payment_mode: str = "on_time"  # on_time | late | weekly_sweep
    base_util: float = 0.75


DEAL_SPECS: tuple[DealSpec, ...] = (
    DealSpec("D-TH-001", "P-TH-SIAM", "fixed_rate", MODEL_H100, 12, "BKK-1", 7, 4, 24, fixed_apr="0.115"),
    DealSpec("D-TW-001", "P-TW-FORM", "revenue_share", MODEL_H200, 16, "TPE-2", 8, 3, 36,
             revenue_share_pct="0.60", target_multiple="1.30", tail_share_pct="0.10",
             payment_mode="weekly_sweep", base_util=0.82),
    DealSpec("D-SG-001", "P-SG-LION", "fixed_rate", MODEL_H200, 10, "SIN-3", 8, 4, 24, fixed_apr="0.105"),
    DealSpec("D-HK-001", "P-HK-HARB", "revenue_share", MODEL_H100, 8, "HKG-1", 8, 3, 30,
             revenue_share_pct="0.55", target_multiple="1.25", tail_share_pct="0.08", base_util=0.70),
    DealSpec("D-JP-001", "P-JP-SAKU", "fixed_rate", MODEL_H200, 14, "TYO-2", 9, 1, 36, fixed_apr="0.095"),
    DealSpec("D-JP-002", "P-JP-SAKU", "revenue_share", MODEL_H100, 8, "OSA-1", 9, 1, 24,
             revenue_share_pct="0.65", target_multiple="1.35", tail_share_pct="0.15", base_util=0.78),
    DealSpec("D-US-001", "P-US-DESR", "fixed_rate", MODEL_H100, 18, "PHX-1", -7, 6, 24, fixed_apr="0.13"),
    DealSpec("D-US-002", "P-US-DESR", "revenue_share", MODEL_H200, 14, "DFW-2", -6, 5, 36,
             revenue_share_pct="0.70", target_multiple="1.30", tail_share_pct="0.12",
             payment_mode="weekly_sweep", base_util=0.85),
    DealSpec("D-CA-001", "P-CA-BORE", "fixed_rate", MODEL_H100, 10, "YUL-1", -5, -2, 18,
             fixed_apr="0.14", payment_mode="late"),
    DealSpec("D-NO-001", "P-NO-FJRD", "revenue_share", MODEL_H200, 12, "OSL-1", 1, -5, 30,
             revenue_share_pct="0.60", target_multiple="1.25", tail_share_pct="0.10", base_util=0.80),
    DealSpec("D-IS-001", "P-IS-GEYS", "fixed_rate", MODEL_H200, 10, "KEF-1", 0, -6, 24, fixed_apr="0.12"),
    DealSpec("D-DK-001", "P-DK-NORD", "revenue_share", MODEL_H200, 8, "CPH-1", 1, -4, 24,
             revenue_share_pct="0.50", target_multiple="1.20", tail_share_pct="0.05",
             payment_mode="late", base_util=0.72),
    DealSpec("D-NO-002", "P-NO-FJRD", "fixed_rate", MODEL_H100, 10, "OSL-2", 1, -5, 12, fixed_apr="0.09"),
    DealSpec("D-MY-001", "P-MY-KLEN", "fixed_rate", MODEL_ROBOT, 100, "KUL", 8, 0, 24, fixed_apr="0.125"),
)
ROBOT_DEAL_ID = "D-MY-001"
ROBOT_SITES = ("KUL-pavilion-2f", "KUL-midvalley-1f", "KUL-klcc-3f", "KUL-sunway-g")


@dataclass(frozen=True)
class Deal:
    spec: DealSpec
    principal_usd: Decimal
    funded_date: date
    maturity_date: date
    min_collateral_ratio: Decimal
    provider_key: str  # name of the provider's TEST key
    collection_key: str  # name of the deal's collection TEST key
    collateral_at_funding: Decimal

    @property
    def deal_id(self) -> str:
        return self.spec.deal_id

    @property
    def provider_address(self) -> str:
        return derive_test_key(self.provider_key).address

    @property
    def collection_address(self) -> str:
        return derive_test_key(self.collection_key).address

    @property
    def asset_class(self) -> str:
        return "robot" if self.spec.model == MODEL_ROBOT else "gpu"


@dataclass(frozen=True)
class Asset:
    asset_id: str
    deal_id: str
    asset_type: str
    model: str
    purchase_price_usd: Decimal
    acquired_date: date
    node_id: str
    node_address: str  # lower-case hex: the node's key, for a robot its fleet's key
    site: str
    serial: str = ""
    pci_bus_id: str = ""


@dataclass(frozen=True)
class Node:
    node_id: str
    deal_id: str
    model: str
    site: str
    utc_offset_h: int
    ambient_c: int
    base_util: float
    key_name: str
    gpu_ids: tuple[str, ...]

    @property
    def address(self) -> str:
        return derive_test_key(self.key_name).address.lower()


@dataclass(frozen=True)
class Incidents:
    """Realistic events of the window (indices into the book's days / GPUs)."""

    offline_node: str | None
    offline_days: tuple[int, ...]
    counter_reset_gpu: str | None
    counter_reset_day: int
    degraded_gpu: str | None
    degraded_day: int
    robot_offline: str | None
    robot_offline_days: tuple[int, ...]
    robot_critical: str | None
    robot_critical_day: int


@dataclass
class DemoBook:
    end_day: date
    days: int
    seed: int
    sample_interval_s: int
    chain_id: int
    providers: list[Provider]
    deals: list[Deal]
    assets: list[Asset]
    nodes: list[Node]
    incidents: Incidents
    price_index: list[tuple[str, date, Decimal]]
    offchain_reserves: list[tuple[date, Decimal, str]]
    tbill_transfer: tuple[date, Decimal] | None
    n_holders: int
    gpu_sim: object = None  # gpu_telemetry.GpuSimulation
    robot_sim: object = None  # robot_telemetry.RobotSimulation
    invoices: list = field(default_factory=list)  # invoices.Invoice

    @property
    def first_day(self) -> date:
        return self.end_day - timedelta(days=self.days - 1)

    @property
    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]

    def deal(self, deal_id: str) -> Deal:
        return next(d for d in self.deals if d.deal_id == deal_id)

    def market_index(self, model: str, day: date) -> Decimal:
        rows = [v for m, a, v in self.price_index if m == model and a <= day]
        return rows[-1] if rows else Decimal(1)


def fleet_key_name(fleet: str) -> str:
    """The name of the TEST key that signs a robot fleet's files (`demo.keys`)."""
    return f"fleet:{fleet}"


def node_key_name(node_id: str) -> str:
    """The name of the TEST key that signs a GPU node's batches (`demo.keys`)."""
    return f"node:{node_id}"


def book_value(price: Decimal, acquired: date, day: date) -> Decimal:
    age = (day - acquired).days
    return price * max(RESIDUAL_PCT, 1 - (1 - RESIDUAL_PCT) * Decimal(age) / USEFUL_LIFE_DAYS)


def _uuid_from(seed: int, name: str) -> str:
    h = hashlib.sha256(f"aidnav-demo:{seed}:{name}".encode()).hexdigest()
    return f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def build_portfolio(end_day: date, days: int, seed: int, sample_interval_s: int,
                    scale: float = 1.0, n_holders: int = 24,
                    chain_id: int = DEFAULT_CHAIN_ID) -> DemoBook:
    """Providers, deals, assets, nodes, price index, reserves and incidents (no telemetry)."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if 86400 % sample_interval_s:
        raise ValueError(f"sample_interval_s must divide 86400, got {sample_interval_s}")
    rng = np.random.default_rng([seed, 1])
    first = end_day - timedelta(days=days - 1)

    providers = [Provider(pid, name, cc, partner, first - timedelta(days=ago))
                 for pid, name, cc, partner, ago in PROVIDERS]

    price_index: list[tuple[str, date, Decimal]] = []
    for model in (MODEL_H100, MODEL_H200, MODEL_ROBOT):
        price_index.append((model, first - timedelta(days=240), Decimal("1.000")))
        for w in range((days - 1) // 7 + 1):
            price_index.append((model, first + timedelta(days=7 * w),
                                Decimal(1) - INDEX_DECLINE_PER_WEEK[model] * (w + 1)))

    def index_on(model: str, day: date) -> Decimal:
        return [v for m, a, v in price_index if m == model and a <= day][-1]

    deals: list[Deal] = []
    assets: list[Asset] = []
    nodes: list[Node] = []
    gpu_deal_no = 0
    for spec in DEAL_SPECS:
        is_robot = spec.model == MODEL_ROBOT
        offset = 0 if is_robot or days < 3 else gpu_deal_no % 3
        gpu_deal_no += 0 if is_robot else 1
        funded = first + timedelta(days=offset)
        acquired = funded - timedelta(days=int(rng.integers(14, 100)))
        if is_robot:
            price = Decimal(int(rng.integers(195, 206)) * 100)
        elif spec.model == MODEL_H100:
            price = Decimal(int(rng.integers(255, 296)) * 100)
        else:
            price = Decimal(int(rng.integers(325, 376)) * 100)
        ltv = Decimal(str(round(float(rng.uniform(0.705, 0.735)), 4)))
        count = max(3 if is_robot else 1, round(spec.nodes * scale))
        cc = spec.provider_id.split("-")[1].lower()
        deal_assets: list[Asset] = []
        if is_robot:
            for i in range(count):
                fleet = "fleet-kl-01" if i < (count + 1) // 2 else "fleet-kl-02"
                deal_assets.append(Asset(f"PM-CR-{1001 + i:06d}", spec.deal_id, "robot", spec.model,
                                         price, acquired, fleet,
                                         derive_test_key(fleet_key_name(fleet)).address.lower(),
                                         ROBOT_SITES[i % len(ROBOT_SITES)]))
        else:
            for n in range(count):
                node_id = f"node-{cc}{spec.deal_id[-1]}-{n + 1:02d}"
                key_name = node_key_name(node_id)
                gpu_ids = []
                for g in range(GPUS_PER_NODE):
                    uuid = _uuid_from(seed, f"{node_id}:{g}")
                    serial = str(1652022000000 + int(uuid[4:12], 16) % 999_999_999)
                    gpu_ids.append(uuid)
                    deal_assets.append(Asset(uuid, spec.deal_id, "gpu", spec.model, price, acquired,
                                             node_id, derive_test_key(key_name).address.lower(), spec.site,
                                             serial, f"00000000:{PCI_BUS_IDS[g]}:00.0"))
                nodes.append(Node(node_id, spec.deal_id, spec.model, spec.site, spec.utc_offset_h,
                                  spec.ambient_c, spec.base_util, key_name, tuple(gpu_ids)))
        collateral = sum((book_value(a.purchase_price_usd, a.acquired_date, funded)
                          * index_on(a.model, funded) for a in deal_assets), Decimal(0))
        principal = (collateral * ltv / 10000).to_integral_value(ROUND_HALF_EVEN) * 10000
        deals.append(Deal(spec, principal, funded, _add_months(funded, spec.maturity_months) - timedelta(days=1),
                          Decimal("1.30"), f"provider:{spec.provider_id}", f"collection:{spec.deal_id}",
                          collateral))
        assets.extend(deal_assets)

    # incidents, placed so that they fit the window whatever its length
    def pick_node(deal_id: str, last: bool) -> Node | None:
        ns = [n for n in nodes if n.deal_id == deal_id]
        return (ns[-1] if last else ns[len(ns) // 2]) if ns else None

    off_node = pick_node("D-HK-001", last=True)
    off_start = max(1, days // 4)
    off_days = tuple(range(off_start, min(days, off_start + 9))) if days >= 3 else ()
    reset_node = pick_node("D-TW-001", last=False)
    degr_node = pick_node("D-US-001", last=False)
    robots = [a for a in assets if a.asset_type == "robot"]
    incidents = Incidents(
        offline_node=off_node.node_id if off_node and off_days else None,
        offline_days=off_days,
        counter_reset_gpu=reset_node.gpu_ids[4] if reset_node else None,
        counter_reset_day=days // 2,
        degraded_gpu=degr_node.gpu_ids[1] if degr_node else None,
        degraded_day=(2 * days) // 3,
        robot_offline=robots[7 % len(robots)].asset_id if days >= 3 else None,
        robot_offline_days=(days // 3, days // 3 + 1) if days >= 3 else (),
        robot_critical=robots[11 % len(robots)].asset_id,
        robot_critical_day=days // 2,
    )

    tbill: tuple[date, Decimal] | None = None
    offchain: list[tuple[date, Decimal, str]] = []
    if days >= 4:
        tb_day = first + timedelta(days=days // 2)
        amount = (Decimal(2_000_000) * Decimal(str(min(1.0, scale * 1.0)))).quantize(Decimal(1000))
        tbill = (tb_day, amount)
        offchain.append((tb_day, amount, "US T-bill buffer at custodian"))
        later = tb_day + timedelta(days=7)
        if later <= end_day:
            accrued = (amount * (1 + Decimal("0.043") * 7 / 365)).quantize(Decimal("0.01"))
            offchain.append((later, accrued, "US T-bill buffer at custodian incl. accrued interest"))

    return DemoBook(end_day=end_day, days=days, seed=seed, sample_interval_s=sample_interval_s,
                    chain_id=chain_id, providers=providers, deals=deals, assets=assets, nodes=nodes,
                    incidents=incidents, price_index=price_index, offchain_reserves=offchain,
                    tbill_transfer=tbill, n_holders=n_holders)
