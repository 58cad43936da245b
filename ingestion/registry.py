"""The registry: reference data in seven CSV files (docs/DATA_CONTRACTS.md, "Registry").

Every row is validated; the first error stops the run with a `RegistryError` naming the
file, the line, the field and what was expected (a silently dropped deal would move the
NAV). A valid registry replaces the raw registry tables whole, with every default filled
in: this module is the one place where an empty cell or a missing parameter gets its
default (`DEAL_DEFAULTS`, `Params`), and nothing downstream applies one again.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Callable

import duckdb
import fsspec
import pyarrow as pa
from eth_utils import keccak

ASSET_CLASSES = ("gpu", "robot")
STRUCTURES = ("fixed_rate", "revenue_share")
ROLES = ("usdc", "aid", "said", "gaib", "nav_oracle", "rewards_distributor", "treasury",
         "collection", "fee_recipient", "excluded")

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

# deals.csv cells that may be left empty, and the value an empty cell takes
DEFAULT_PAYMENT_LAG_DAYS = 15
DEFAULT_MIN_COLLATERAL_RATIO = Decimal("1.30")


class RegistryError(Exception):
    """A registry file is invalid. The message names the file, line, field and what was
    expected; the run must stop."""

    def __init__(self, file: str, line: int, field: str, expected: str, got: str | None = None):
        self.file, self.line, self.field, self.expected, self.got = file, line, field, expected, got
        where = f"{file}, line {line}" + (f", field '{field}'" if field else "")
        got_part = f" (got {got!r})" if got is not None else ""
        super().__init__(f"{where}: expected {expected}{got_part}")


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str
    country: str
    nvidia_cloud_partner: bool
    onboarded_date: date


@dataclass(frozen=True)
class Deal:
    deal_id: str
    provider_id: str
    asset_class: str
    structure: str
    principal_usd: Decimal
    funded_date: date
    maturity_date: date
    fixed_apr: Decimal | None
    revenue_share_pct: Decimal | None
    target_multiple: Decimal | None
    tail_share_pct: Decimal | None
    payment_lag_days: int
    min_collateral_ratio: Decimal
    provider_address: str | None
    collection_address: str | None


@dataclass(frozen=True)
class Asset:
    asset_id: str
    deal_id: str
    asset_type: str
    model: str
    purchase_price_usd: Decimal
    acquired_date: date
    useful_life_days: int
    residual_pct: Decimal
    node_id: str | None
    node_address: str | None
    site: str | None


@dataclass(frozen=True)
class PriceIndex:
    model: str
    as_of: date
    market_index: Decimal


@dataclass(frozen=True)
class OffchainReserve:
    as_of: date
    amount_usd: Decimal
    description: str | None


@dataclass(frozen=True)
class Address:
    chain_id: int
    role: str
    address: str
    label: str | None


@dataclass(frozen=True)
class Params:
    inception_date: date
    sample_interval_s: int = 60
    protocol_fee_apr: Decimal = Decimal("0.0025")
    performance_fee_pct: Decimal = Decimal("0.15")
    recovery_rate: Decimal = Decimal("0.70")
    daily_rewards_budget_gaib: Decimal = Decimal("10000")
    max_share_price_move_bps: Decimal = Decimal("100")
    confirmations: int = 12
    start_block: int = 0

    def as_text(self) -> dict[str, str]:
        return {name: (v.isoformat() if isinstance(v, date) else str(v))
                for name, v in self.__dict__.items()}


@dataclass(frozen=True)
class Registry:
    providers: tuple[Provider, ...]
    deals: tuple[Deal, ...]
    assets: tuple[Asset, ...]
    price_index: tuple[PriceIndex, ...]
    offchain_reserves: tuple[OffchainReserve, ...]
    addresses: tuple[Address, ...]
    params: Params
    source_dir: str = field(default="", compare=False)

    @cached_property
    def providers_by_id(self) -> dict[str, Provider]:
        return {p.provider_id: p for p in self.providers}

    @cached_property
    def deals_by_id(self) -> dict[str, Deal]:
        return {d.deal_id: d for d in self.deals}

    @cached_property
    def assets_by_id(self) -> dict[str, Asset]:
        return {a.asset_id: a for a in self.assets}

    @cached_property
    def node_addresses(self) -> dict[str, str]:
        """node_id -> the address whose key signs that node's telemetry."""
        return {a.node_id: a.node_address for a in self.assets if a.node_id and a.node_address}

    def deal(self, deal_id: str) -> Deal:
        return self.deals_by_id[deal_id]

    def asset(self, asset_id: str) -> Asset:
        return self.assets_by_id[asset_id]

    def node_address(self, node_id: str) -> str | None:
        return self.node_addresses.get(node_id)

    def addresses_by_role(self, role: str, chain_id: int | None = None) -> tuple[str, ...]:
        return tuple(a.address for a in self.addresses
                     if a.role == role and (chain_id is None or a.chain_id == chain_id))

    def address(self, role: str, chain_id: int | None = None) -> str:
        """The single address of `role` (e.g. 'said'); KeyError when there is none."""
        found = self.addresses_by_role(role, chain_id)
        if not found:
            raise KeyError(f"no address with role {role!r} in the registry")
        return found[0]

    def chain_ids(self) -> tuple[int, ...]:
        return tuple(sorted({a.chain_id for a in self.addresses}))


# --------------------------------------------------------------------------- parsing


class _Row:
    """One CSV row with typed accessors that raise RegistryError."""

    def __init__(self, file: str, line: int, values: dict[str, str]):
        self.file, self.line, self.values = file, line, values

    def fail(self, field_name: str, expected: str, got: str | None = None) -> RegistryError:
        return RegistryError(self.file, self.line, field_name, expected, got)

    def text(self, name: str, required: bool = True) -> str | None:
        v = (self.values.get(name) or "").strip()
        if not v:
            if required:
                raise self.fail(name, "a non-empty value", "")
            return None
        return v

    def enum(self, name: str, allowed: tuple[str, ...]) -> str:
        v = self.text(name)
        if v not in allowed:
            raise self.fail(name, "one of " + "|".join(allowed), v)
        return v

    def day(self, name: str, required: bool = True) -> date | None:
        v = self.text(name, required)
        if v is None:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                raise ValueError
            return date.fromisoformat(v)
        except ValueError:
            raise self.fail(name, "a date YYYY-MM-DD", v) from None

    def dec(self, name: str, required: bool = True, minimum: Decimal | None = None,
            maximum: Decimal | None = None, above: Decimal | None = None) -> Decimal | None:
        v = self.text(name, required)
        if v is None:
            return None
        try:
            d = Decimal(v)
            if not d.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise self.fail(name, "a decimal number", v) from None
        if minimum is not None and d < minimum:
            raise self.fail(name, f"a number >= {minimum}", v)
        if maximum is not None and d > maximum:
            raise self.fail(name, f"a number <= {maximum}", v)
        if above is not None and d <= above:
            raise self.fail(name, f"a number > {above}", v)
        return d

    def integer(self, name: str, required: bool = True, minimum: int | None = None) -> int | None:
        v = self.text(name, required)
        if v is None:
            return None
        if not re.fullmatch(r"[+-]?\d+", v):
            raise self.fail(name, "an integer", v)
        i = int(v)
        if minimum is not None and i < minimum:
            raise self.fail(name, f"an integer >= {minimum}", v)
        return i

    def boolean(self, name: str) -> bool:
        v = (self.text(name) or "").lower()
        if v not in ("true", "false"):
            raise self.fail(name, "true or false", self.values.get(name))
        return v == "true"

    def address(self, name: str, required: bool = True) -> str | None:
        v = self.text(name, required)
        if v is None:
            return None
        return _checked_address(v, lambda exp: self.fail(name, exp, v))


def _checked_address(v: str, fail: Callable[[str], RegistryError]) -> str:
    """Lower-cased hex address. Mixed case is accepted only as a valid EIP-55 checksum."""
    if not _HEX_ADDRESS.match(v):
        raise fail("a 0x-prefixed 20-byte hex address")
    body = v[2:]
    if body != body.lower() and body != body.upper():
        digest = keccak(text=body.lower()).hex()
        for ch, nib in zip(body, digest):
            if ch.isalpha() and (ch.isupper() != (int(nib, 16) >= 8)):
                raise fail("a lower-case hex address (or a valid EIP-55 checksum)")
    return "0x" + body.lower()


def _read_csv(fs, root: str, name: str, columns: tuple[str, ...],
              optional: tuple[str, ...] = ()) -> list[_Row]:
    path = f"{root}/{name}"
    if not fs.exists(path):
        raise RegistryError(name, 0, "", "the file to exist in the registry folder")
    raw = fs.cat_file(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise RegistryError(name, line, "", "valid UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise RegistryError(name, 1, "", "a header row " + ",".join(columns)) from None
    missing = [c for c in columns if c not in header and c not in optional]
    if missing:
        raise RegistryError(name, 1, missing[0], "a header with columns " + ",".join(columns))
    extra = [h for h in header if h not in columns]
    if extra:
        raise RegistryError(name, 1, extra[0], "only the columns " + ",".join(columns))
    if len(set(header)) != len(header):
        raise RegistryError(name, 1, "", "each column once in the header")
    rows = []
    for values in reader:
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise RegistryError(name, line, "", f"{len(header)} fields as in the header",
                                f"{len(values)} fields")
        rows.append(_Row(name, line, dict(zip(header, values))))
    return rows


def _or(value, default):
    """An empty optional cell takes its default."""
    return default if value is None else value


def _unique(rows: list[_Row], key: Callable[[_Row], object], field_name: str) -> None:
    seen: dict[object, int] = {}
    for r in rows:
        k = key(r)
        if k in seen:
            raise r.fail(field_name, f"a unique value (already on line {seen[k]})", str(k))
        seen[k] = r.line


def registry_inception(registry_dir: str | Path) -> date | None:
    """The book's first day without parsing the whole registry: params.csv's
    inception_date, else the earliest funded_date of deals.csv (as parse_registry
    defaults it); None when neither can be read (parse_registry then says why)."""
    fs, root = fsspec.core.url_to_fs(str(registry_dir))
    root = root.rstrip("/")

    def rows(name: str) -> list[dict[str, str]]:
        try:
            text = fs.cat_file(f"{root}/{name}").decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return []
        return [{(k or "").strip(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(text, newline=""))]

    def day(text: str | None) -> date | None:
        try:
            return date.fromisoformat(text or "")
        except ValueError:
            return None

    for row in rows("params.csv"):
        if row.get("name") == "inception_date":
            return day(row.get("value"))
    funded = [d for d in (day(row.get("funded_date")) for row in rows("deals.csv")) if d]
    return min(funded, default=None)


def parse_registry(registry_dir: str | Path) -> Registry:
    """Read and validate the seven registry CSV files; raise RegistryError on the first error."""
    fs, root = fsspec.core.url_to_fs(str(registry_dir))
    root = root.rstrip("/")

    rows = _read_csv(fs, root, "providers.csv",
                     ("provider_id", "name", "country", "nvidia_cloud_partner", "onboarded_date"))
    _unique(rows, lambda r: r.text("provider_id"), "provider_id")
    providers = tuple(Provider(r.text("provider_id"), r.text("name"), r.text("country", False),
                               r.boolean("nvidia_cloud_partner"), r.day("onboarded_date"))
                      for r in rows)
    provider_ids = {p.provider_id for p in providers}

    rows = _read_csv(fs, root, "deals.csv", (
        "deal_id", "provider_id", "asset_class", "structure", "principal_usd", "funded_date",
        "maturity_date", "fixed_apr", "revenue_share_pct", "target_multiple", "tail_share_pct",
        "payment_lag_days", "min_collateral_ratio", "provider_address", "collection_address"))
    _unique(rows, lambda r: r.text("deal_id"), "deal_id")
    deal_rows = rows
    deals = []
    for r in rows:
        provider_id = r.text("provider_id")
        if provider_id not in provider_ids:
            raise r.fail("provider_id", "a provider_id of providers.csv", provider_id)
        structure = r.enum("structure", STRUCTURES)
        fixed = structure == "fixed_rate"
        d = Deal(
            deal_id=r.text("deal_id"), provider_id=provider_id,
            asset_class=r.enum("asset_class", ASSET_CLASSES), structure=structure,
            principal_usd=r.dec("principal_usd", above=Decimal(0)),
            funded_date=r.day("funded_date"), maturity_date=r.day("maturity_date"),
            fixed_apr=r.dec("fixed_apr", required=fixed, minimum=Decimal(0)),
            revenue_share_pct=r.dec("revenue_share_pct", required=not fixed,
                                    minimum=Decimal(0), maximum=Decimal(1)),
            target_multiple=r.dec("target_multiple", required=not fixed, above=Decimal(0)),
            tail_share_pct=r.dec("tail_share_pct", required=not fixed,
                                 minimum=Decimal(0), maximum=Decimal(1)),
            payment_lag_days=_or(r.integer("payment_lag_days", required=False, minimum=0),
                                 DEFAULT_PAYMENT_LAG_DAYS),
            # over-collateralised: a minimum under 1 would let a deal be under water
            min_collateral_ratio=_or(r.dec("min_collateral_ratio", required=False,
                                           minimum=Decimal(1)), DEFAULT_MIN_COLLATERAL_RATIO),
            provider_address=r.address("provider_address", required=False),
            collection_address=r.address("collection_address", required=False))
        if d.maturity_date < d.funded_date:
            raise r.fail("maturity_date", f"a date on or after funded_date {d.funded_date}",
                         d.maturity_date.isoformat())
        deals.append(d)
    deals_by_id = {d.deal_id: d for d in deals}

    rows = _read_csv(fs, root, "assets.csv", (
        "asset_id", "deal_id", "asset_type", "model", "purchase_price_usd", "acquired_date",
        "useful_life_days", "residual_pct", "node_id", "node_address", "site"))
    _unique(rows, lambda r: r.text("asset_id"), "asset_id")
    assets = []
    node_owner: dict[str, tuple[str, int]] = {}
    fleet_key: dict[str, tuple[str | None, int]] = {}
    for r in rows:
        deal_id = r.text("deal_id")
        if deal_id not in deals_by_id:
            raise r.fail("deal_id", "a deal_id of deals.csv", deal_id)
        asset_type = r.enum("asset_type", ASSET_CLASSES)
        if asset_type != deals_by_id[deal_id].asset_class:
            raise r.fail("asset_type", f"the asset_class of deal {deal_id} "
                         f"({deals_by_id[deal_id].asset_class})", asset_type)
        gpu = asset_type == "gpu"
        a = Asset(
            asset_id=r.text("asset_id"), deal_id=deal_id, asset_type=asset_type,
            model=r.text("model"),
            purchase_price_usd=r.dec("purchase_price_usd", minimum=Decimal(0)),
            acquired_date=r.day("acquired_date"),
            useful_life_days=r.integer("useful_life_days", minimum=1),
            residual_pct=r.dec("residual_pct", minimum=Decimal(0), maximum=Decimal(1)),
            node_id=r.text("node_id", required=gpu),
            node_address=r.address("node_address", required=gpu),
            site=r.text("site", required=False))
        if a.node_id and a.node_address:
            prev = node_owner.setdefault(a.node_id, (a.node_address, r.line))
            if prev[0] != a.node_address:
                raise r.fail("node_address", f"the node_address of node {a.node_id} on line "
                             f"{prev[1]} ({prev[0]})", a.node_address)
        if not gpu:
            # a robot's node_address is its fleet's key: the fleet (node_id) signs its files
            # with it, so every robot of a fleet has the same one, or none has any
            if a.node_address and not a.node_id:
                raise r.fail("node_id", "the fleet whose files node_address signs", "")
            if a.node_id:
                prev_fleet = fleet_key.setdefault(a.node_id, (a.node_address, r.line))
                if prev_fleet[0] != a.node_address:
                    raise r.fail("node_address", f"the node_address of fleet {a.node_id} on "
                                 f"line {prev_fleet[1]} ({prev_fleet[0] or 'empty'})",
                                 a.node_address or "")
        assets.append(a)

    rows = _read_csv(fs, root, "price_index.csv", ("model", "as_of", "market_index"))
    _unique(rows, lambda r: (r.text("model"), r.day("as_of")), "as_of")
    price_index = tuple(PriceIndex(r.text("model"), r.day("as_of"),
                                   r.dec("market_index", minimum=Decimal(0))) for r in rows)

    rows = _read_csv(fs, root, "offchain_reserves.csv", ("as_of", "amount_usd", "description"))
    _unique(rows, lambda r: r.day("as_of"), "as_of")
    reserves = tuple(OffchainReserve(r.day("as_of"), r.dec("amount_usd"),
                                     r.text("description", False)) for r in rows)

    rows = _read_csv(fs, root, "addresses.csv", ("chain_id", "role", "address", "label"))
    addresses = tuple(Address(r.integer("chain_id", minimum=0), r.enum("role", ROLES),
                              r.address("address"), r.text("label", False)) for r in rows)
    seen_addr: dict[tuple[int, str, str], int] = {}
    for r, a in zip(rows, addresses):
        k = (a.chain_id, a.role, a.address)
        if k in seen_addr:
            raise r.fail("address", f"each (chain_id, role, address) once (already on line "
                         f"{seen_addr[k]})", a.address)
        seen_addr[k] = r.line

    _check_collection_addresses(deal_rows, deals, addresses)

    params = _parse_params(_read_csv(fs, root, "params.csv", ("name", "value")), deals)
    return Registry(providers, tuple(deals), tuple(assets), price_index, reserves, addresses,
                    params, source_dir=str(registry_dir))


def _check_collection_addresses(rows: list[_Row], deals: list[Deal],
                                addresses: tuple[Address, ...]) -> None:
    """A deal's collection_address is a reserve address: it must be listed in addresses.csv
    with role `collection` (reserves are exactly the treasury and collection rows there), and
    it collects for one deal only (a receipt must name its deal)."""
    listed = {a.address for a in addresses if a.role == "collection"}
    owner: dict[str, tuple[str, int]] = {}
    for r, d in zip(rows, deals):
        if d.collection_address is None:
            continue
        if d.collection_address not in listed:
            raise r.fail("collection_address",
                         "an address listed in addresses.csv with role collection",
                         d.collection_address)
        prev = owner.setdefault(d.collection_address, (d.deal_id, r.line))
        if prev[0] != d.deal_id:
            raise r.fail("collection_address", f"an address of one deal only (deal {prev[0]} "
                         f"on line {prev[1]} collects to it)", d.collection_address)


_PARAM_TYPES: dict[str, str] = {
    "inception_date": "date", "sample_interval_s": "int", "protocol_fee_apr": "dec",
    "performance_fee_pct": "dec", "recovery_rate": "dec", "daily_rewards_budget_gaib": "dec",
    "max_share_price_move_bps": "dec", "confirmations": "int", "start_block": "int",
}


def _parse_params(rows: list[_Row], deals: list[Deal]) -> Params:
    _unique(rows, lambda r: r.text("name"), "name")
    values: dict[str, object] = {}
    for r in rows:
        name = r.text("name")
        kind = _PARAM_TYPES.get(name)
        if kind is None:
            raise r.fail("name", "one of " + "|".join(_PARAM_TYPES), name)
        if kind == "date":
            values[name] = r.day("value")
        elif kind == "int":
            values[name] = r.integer("value", minimum=1 if name == "sample_interval_s" else 0)
        else:
            values[name] = r.dec("value", minimum=Decimal(0))
    if "inception_date" not in values:
        if not deals:
            raise RegistryError("params.csv", 0, "inception_date",
                                "an inception_date, or at least one deal to default it from")
        values["inception_date"] = min(d.funded_date for d in deals)
    return Params(**values)  # type: ignore[arg-type]


def load_registry(con: duckdb.DuckDBPyConnection, registry_dir: str | Path) -> Registry:
    """Validate the registry in `registry_dir` and replace the raw registry tables with it
    (in one transaction). Raises RegistryError, and changes nothing, when a file is invalid."""
    reg = parse_registry(registry_dir)
    con.execute("begin transaction")
    try:
        for table in ("providers", "deals", "assets", "price_index", "offchain_reserves",
                      "addresses", "params"):
            con.execute(f"delete from raw.{table}")
        _insert(con, "providers", [(p.provider_id, p.name, p.country, p.nvidia_cloud_partner,
                                    p.onboarded_date) for p in reg.providers])
        _insert(con, "deals", [tuple(d.__dict__.values()) for d in reg.deals])
        _insert(con, "assets", [tuple(a.__dict__.values()) for a in reg.assets])
        _insert(con, "price_index", [(p.model, p.as_of, p.market_index) for p in reg.price_index])
        _insert(con, "offchain_reserves", [(o.as_of, o.amount_usd, o.description)
                                           for o in reg.offchain_reserves])
        _insert(con, "addresses", [(a.chain_id, a.role, a.address, a.label)
                                   for a in reg.addresses])
        _insert(con, "params", sorted(reg.params.as_text().items()))
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return reg


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Insert `rows` into raw.`table` in column order, as one Arrow table (a row at a time
    took about 0.8 ms a row: 8 s for a 10,000-GPU registry). Decimals travel as their text,
    which DuckDB casts to the column's decimal(38,18) exactly as it casts a bound Decimal;
    Arrow would otherwise widen a column of mixed scales past the 38 digits DuckDB reads."""
    if not rows:
        return
    columns = [list(c) for c in zip(*rows)]
    for values in columns:
        if any(isinstance(v, Decimal) for v in values):
            values[:] = [None if v is None else str(v) for v in values]
    batch = pa.table({f"c{i}": pa.array(values) for i, values in enumerate(columns)})
    con.register("_registry_rows", batch)
    try:
        con.execute(f"insert into raw.{table} select * from _registry_rows")
    finally:
        con.unregister("_registry_rows")
