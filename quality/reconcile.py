"""Reconciliations that block a publication: books against the chain, the registry and disk.

Each function returns the list of problems (empty when everything matches), each naming
the day, the figure, both sides and the difference.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from ledger.exact import plain_text

ZERO = "0x0000000000000000000000000000000000000000"
ERC20_ABI = [
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "totalSupply", "type": "function", "stateMutability": "view",
     "inputs": [], "outputs": [{"name": "", "type": "uint256"}]},
]
DECIMALS = {"usdc": 6, "aid": 18, "said": 18}


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _end(day: date) -> datetime:
    return _start(day + timedelta(days=1))


def _roles(con: duckdb.DuckDBPyConnection, chain_id: int) -> dict[str, list[str]]:
    roles: dict[str, list[str]] = {}
    for role, address in con.execute(
        "select role, lower(address) from raw.addresses where chain_id = ?", [chain_id]
    ).fetchall():
        roles.setdefault(role, []).append(address)
    return roles


def last_block_of_day(con: duckdb.DuckDBPyConnection, chain_id: int, day: date) -> int | None:
    """The last seen block with timestamp < end of `day` (None when the chain has none)."""
    return con.execute(
        "select max(block_number) from raw.chain_blocks where chain_id = ? and block_timestamp < ?",
        [chain_id, _end(day)],
    ).fetchone()[0]


def _event_balance(con, chain_id: int, token: str, holder: str, block: int) -> int:
    return int(con.execute(
        """select coalesce(sum(case when lower(arg_to) = ? then arg_value else 0 end), 0)
                - coalesce(sum(case when lower(arg_from) = ? then arg_value else 0 end), 0)
           from raw.chain_events
           where chain_id = ? and event = 'Transfer' and lower(address) = ? and block_number <= ?""",
        [holder, holder, chain_id, token, block],
    ).fetchone()[0])


def _event_supply(con, chain_id: int, token: str, block: int) -> int:
    """Minted less burned: what the zero address has sent out, net (its balance, negated)."""
    return -_event_balance(con, chain_id, token, ZERO, block)


# what nodes answer for a block whose state they no longer hold
_STATE_GONE = ("blockoutofrange", "missing trie node", "header not found",
               "historical state", "state is not available", "state not available")


class StateUnavailable(Exception):
    """The chain no longer serves a past block's state and no reading of it was kept."""


def call_at_block(con: duckdb.DuckDBPyConnection, chain_id: int, block: int, contract: str,
                  call: str, fn: Any) -> int:
    """`fn.call()` at `block`. A live answer is kept in raw.chain_state_reads; where the
    chain no longer serves that block's state (anvil restarted from its state file, a node
    that is not an archive), the reading kept when it did is used instead. Raises
    StateUnavailable when there is none."""
    row = con.execute("select block_hash from raw.chain_blocks where chain_id = ? and "
                      "block_number = ?", [chain_id, block]).fetchone()
    block_hash = row[0] if row else ""
    try:
        value = int(fn.call(block_identifier=block))
    except Exception as e:  # web3 raises Web3RPCError (ValueError in older versions)
        if not any(s in str(e).lower() for s in _STATE_GONE):
            raise
        kept = con.execute(
            "select value from raw.chain_state_reads where chain_id = ? and block_number = ? "
            "and block_hash = ? and contract = ? and call = ?",
            [chain_id, block, block_hash, contract.lower(), call]).fetchone()
        if kept is None:
            raise StateUnavailable(
                f"{call} of {contract.lower()} at block {block}: the chain no longer serves "
                f"that block's state ({str(e)[:160]}) and no reading of it was kept when it "
                "did: run this day against a node that keeps past states (an archive node)"
            ) from None
        return int(kept[0])
    con.execute("insert or replace into raw.chain_state_reads values (?, ?, ?, ?, ?, ?, now())",
                [chain_id, block, block_hash, contract.lower(), call, value])
    return value


def reconcile_chain_balances(con: duckdb.DuckDBPyConnection, w3: Any, day: date) -> list[str]:
    """Reserves and AID/sAID supplies from events = `balanceOf`/`totalSupply` on chain at the
    day's last block = the NAV mart's figures."""
    chain_id = int(w3.eth.chain_id)
    block = last_block_of_day(con, chain_id, day)
    if block is None:
        return [f"{day}: raw.chain_blocks has no block before the day's end: chain not ingested"]
    roles = _roles(con, chain_id)
    problems: list[str] = []

    def token(role: str):
        return w3.eth.contract(address=w3.to_checksum_address(roles[role][0]), abi=ERC20_ABI)

    reserves_units = 0
    usdc = token("usdc")
    try:
        for holder in roles.get("treasury", []) + roles.get("collection", []):
            from_events = _event_balance(con, chain_id, roles["usdc"][0], holder, block)
            on_chain = call_at_block(
                con, chain_id, block, roles["usdc"][0], f"balanceOf({holder})",
                usdc.functions.balanceOf(w3.to_checksum_address(holder)))
            reserves_units += on_chain
            if from_events != on_chain:
                problems.append(
                    f"{day}: USDC balance of {holder} at block {block}: events give "
                    f"{from_events}, balanceOf gives {on_chain} "
                    f"(difference {from_events - on_chain})")
        supplies = {}
        for role in ("aid", "said"):
            from_events = _event_supply(con, chain_id, roles[role][0], block)
            on_chain = call_at_block(con, chain_id, block, roles[role][0], "totalSupply()",
                                     token(role).functions.totalSupply())
            supplies[role] = on_chain
            if from_events != on_chain:
                problems.append(
                    f"{day}: {role.upper()} supply at block {block}: events give {from_events}, "
                    f"totalSupply gives {on_chain} (difference {from_events - on_chain})")
    except StateUnavailable as e:
        return problems + [f"{day}: {e}"]
    row = con.execute(
        "select reserves_usd, aid_supply, said_supply from marts.fct_nav_daily where day = ?", [day]
    ).fetchone()
    if row is not None:
        chain_values = (
            Decimal(reserves_units) / 10 ** DECIMALS["usdc"],
            Decimal(supplies["aid"]) / 10 ** 18,
            Decimal(supplies["said"]) / 10 ** 18,
        )
        for name, mart, chain in zip(("reserves_usd", "aid_supply", "said_supply"), row, chain_values):
            if mart is not None and Decimal(mart) != chain:
                problems.append(f"{day}: fct_nav_daily.{name} {mart} != {chain} on chain at block {block}")
    return problems


def reconcile_funding(con: duckdb.DuckDBPyConnection, chain_id: int, through: date) -> list[str]:
    """Every deal funded by `through` has a USDC transfer from a treasury address to its
    provider_address of exactly principal_usd on its funded_date. A deal registered
    without a provider_address (the contract lets it be empty) is matched by a transfer of
    exactly principal_usd from a treasury address to any address outside the reserves."""
    roles = _roles(con, chain_id)
    treasuries = roles.get("treasury", [])
    if not treasuries or "usdc" not in roles:
        return [f"registry/addresses.csv lacks a treasury or usdc address for chain {chain_id}"]
    problems = []
    deals = con.execute(
        "select deal_id, lower(provider_address), principal_usd, funded_date from raw.deals "
        "where funded_date <= ? order by deal_id", [through],
    ).fetchall()
    for deal_id, provider, principal, funded in deals:
        units = Decimal(principal) * 10 ** DECIMALS["usdc"]
        reserves = treasuries + roles.get("collection", [])
        to_provider = ("lower(arg_to) = ?" if provider else
                       f"lower(arg_to) not in ({','.join('?' * len(reserves))})")
        found = con.execute(
            f"""select arg_value from raw.chain_events
                where chain_id = ? and event = 'Transfer' and lower(address) = ?
                  and lower(arg_from) in ({','.join('?' * len(treasuries))}) and {to_provider}
                  and block_timestamp >= ? and block_timestamp < ?""",
            [chain_id, roles["usdc"][0], *treasuries, *([provider] if provider else reserves),
             _start(funded), _end(funded)],
        ).fetchall()
        amounts = [Decimal(v) for (v,) in found]
        if units not in amounts:
            seen = ", ".join(plain_text(a / 10 ** 6) for a in amounts) or "none"
            problems.append(
                f"deal {deal_id}: no USDC transfer of {plain_text(Decimal(principal))} from the "
                f"treasury to {provider or 'its provider'} on {funded} "
                f"(transfers seen that day: {seen})")
    return problems


def reconcile_rewards_budget(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[str]:
    """budget = sum of rewards + dust, to the wei; budget = daily budget + yesterday's dust."""
    daily = int(Decimal(con.execute(
        "select value from raw.params where name = 'daily_rewards_budget_gaib'").fetchone()[0]) * 10 ** 18)
    problems = []
    rows = con.execute(
        """select r.day, r.budget_wei, r.dust_wei,
                  (select coalesce(sum(reward_wei), 0) from marts.fct_staker_rewards_daily s
                    where s.day = r.day) as paid,
                  (select dust_wei from marts.fct_rewards_roots_daily p
                    where p.day = r.day - interval 1 day) as dust_before
           from marts.fct_rewards_roots_daily r where r.day between ? and ? order by r.day""",
        [start, end],
    ).fetchall()
    for day, budget, dust, paid, dust_before in rows:
        if int(paid) + int(dust) != int(budget):
            problems.append(f"{day}: rewards paid {int(paid)} + dust {int(dust)} != budget {int(budget)} wei "
                            f"(difference {int(paid) + int(dust) - int(budget)})")
        if dust_before is not None and int(budget) != daily + int(dust_before):
            problems.append(f"{day}: budget {int(budget)} wei != daily budget {daily} + carried dust "
                            f"{int(dust_before)}")
    return problems


# Each stored figure is its exact value rounded half-even to 18 places, separately: an
# identity between stored figures holds to half a unit of the 18th place per rounded
# figure, so to one unit for NAV = gross - fees and two for the four-figure gross.
ONE_UNIT_18 = Decimal("1e-18")


def nav_identity(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[str]:
    """gross = carrying + reserves + off-chain reserves and NAV = gross - fees, to the
    rounding of the stored figures; the carrying total equals the sum of the deal
    positions to 1e-6."""
    problems = []
    for day, carrying, reserves, offchain, gross, fees, nav, deals_total in con.execute(
        """select n.day, n.carrying_value_total, n.reserves_usd, n.offchain_reserves_usd,
                  n.gross_assets, n.fees_payable, n.nav_usd,
                  (select coalesce(sum(carrying_value), 0) from marts.fct_deal_position_daily d
                    where d.day = n.day)
           from marts.fct_nav_daily n where n.day between ? and ? order by n.day""",
        [start, end],
    ).fetchall():
        if abs(gross - fees - nav) > ONE_UNIT_18:
            problems.append(f"{day}: NAV identity broken: gross {gross} - fees {fees} != nav {nav}")
        if abs(carrying + reserves + offchain - gross) > 2 * ONE_UNIT_18:
            problems.append(f"{day}: gross {gross} != carrying {carrying} + reserves {reserves} "
                            f"+ off-chain {offchain}")
        if abs(Decimal(deals_total) - carrying) > Decimal("0.000001"):
            problems.append(f"{day}: carrying_value_total {carrying} != sum of deal carrying values "
                            f"{deals_total}")
    return problems


def reconcile_report_hashes(con: duckdb.DuckDBPyConnection, reports_dir: Path, through: date) -> list[str]:
    """Each posted report on disk still has the sha256 that was published: the canonical
    `<kind>/<day>.json` only (a restatement is written beside it, never over it)."""
    try:
        rows = con.execute(
            "select distinct day, kind, report_hash from marts.publications "
            "where day <= ? and status = 'posted' order by day, kind",
            [through],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    problems = []
    for day, kind, posted in rows:
        path = reports_dir / kind / f"{day.isoformat()}.json"
        if not path.exists():
            problems.append(f"{path}: missing, but its hash {posted} was published for {day}")
            continue
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != (posted or "").lower().removeprefix("0x"):
            problems.append(f"{path}: sha256 0x{actual} != published report hash {posted} for {day}")
    return problems
