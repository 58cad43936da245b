"""Publish one day: build the canonical reports from the marts, pre-flight, post on chain.

Plain Python (no Dagster): the orchestration's publish asset and `aidnav run` call
`publish_day`. Every step is idempotent: reports are rewritten byte-identically, and the
on-chain publisher reads the chain before sending, so a day is never posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import duckdb

from aidnav.reports import WrittenReport, code_version, write_report
from quality.preflight import LastPosted

WEI = Decimal(10) ** 18
EPOCH = date(1970, 1, 1)

PUBLICATIONS_DDL = """
create schema if not exists marts;
create table if not exists marts.publications (
    day date, kind varchar, chain_id bigint, tx_hash varchar, block_number bigint,
    status varchar, report_hash varchar, posted_at timestamptz,
    primary key (day, kind, chain_id));
create table if not exists marts.restatements (
    day date, kind varchar, chain_id bigint, posted_report_hash varchar,
    new_report_hash varchar, detail varchar, recorded_at timestamptz,
    primary key (day, kind, chain_id, new_report_hash));
"""

NAV_COLUMNS = (
    "carrying_value_total", "reserves_usd", "offchain_reserves_usd", "gross_assets",
    "protocol_fee", "performance_fee", "fees_payable", "nav_usd", "aid_supply",
    "backing_ratio", "said_supply", "said_assets", "share_price", "apy_7d", "apy_30d",
)


class PublishBlocked(RuntimeError):
    """A guardrail refused the publication; nothing was sent."""


def day_number(day: date) -> int:
    return (day - EPOCH).days


def to_wei_half_even(value: Decimal) -> int:
    return int((value * WEI).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class DayFigures:
    day: date
    nav: dict[str, Decimal | None]
    deals: list[dict[str, Any]]
    rewards: list[dict[str, Any]]  # account, twab, reward_wei, cumulative_wei


def read_day(con: duckdb.DuckDBPyConnection, day: date) -> DayFigures:
    row = con.execute(
        f"select {', '.join(NAV_COLUMNS)} from marts.fct_nav_daily where day = ?", [day]
    ).fetchone()
    if row is None:
        raise PublishBlocked(f"marts.fct_nav_daily has no row for {day}: run the models first")
    nav = dict(zip(NAV_COLUMNS, row))
    deal_cur = con.execute(
        "select * from marts.fct_deal_position_daily where day = ? order by deal_id", [day]
    )
    names = [d[0] for d in deal_cur.description]
    deals = [dict(zip(names, r)) for r in deal_cur.fetchall()]
    rewards = [
        {"account": a, "twab": t, "reward_wei": int(r), "cumulative_wei": int(c)}
        for a, t, r, c in con.execute(
            "select account, twab, reward_wei, cumulative_wei "
            "from marts.fct_staker_rewards_daily where day = ? order by account",
            [day],
        ).fetchall()
    ]
    return DayFigures(day=day, nav=nav, deals=deals, rewards=rewards)


def input_hashes(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """The inputs a day's figures stand on: landing files delivered up to D+1, chain to D."""
    files = con.execute(
        "select source, file, sha256 from raw.ingested_files order by source, file"
    ).fetchall()
    cutoff = (day + timedelta(days=1)).isoformat()
    kept = [
        {"source": s, "file": f, "sha256": h}
        for s, f, h in files
        if _folder_date(f) is None or _folder_date(f) <= cutoff
    ]
    head = con.execute(
        "select max(block_number) from raw.chain_events where block_timestamp < ?",
        [datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)],
    ).fetchone()[0]
    return {"landing_files": kept, "chain_last_block": head}


def _folder_date(path: str) -> str | None:
    for part in path.split("/"):
        if len(part) == 10 and part[4] == "-" and part[7] == "-":
            return part
    return None


def build_nav_report(
    con: duckdb.DuckDBPyConnection, figures: DayFigures, override_reason: str | None = None,
    override_approver: str | None = None,
) -> dict[str, Any]:
    override = None
    if override_reason:
        override = {"reason": override_reason}
        if override_approver:
            override["approver"] = override_approver
    return {
        "override": override,
        "kind": "nav",
        "day": figures.day,
        "day_number": day_number(figures.day),
        "code_version": code_version(),
        "nav": figures.nav,
        "deals": figures.deals,
        "inputs": input_hashes(con, figures.day),
        "onchain": {
            "share_price": str(to_wei_half_even(figures.nav["share_price"])),
            "nav_usd": str(to_wei_half_even(figures.nav["nav_usd"])),
            "aid_supply": str(to_wei_half_even(figures.nav["aid_supply"])),
        },
    }


def build_rewards_report(figures: DayFigures) -> dict[str, Any]:
    from onchain.merkle import build_tree

    entries = [(r["account"], r["cumulative_wei"]) for r in figures.rewards if r["cumulative_wei"] > 0]
    tree = build_tree(entries)
    return {
        "kind": "rewards",
        "epoch": day_number(figures.day),
        "day": figures.day,
        "code_version": code_version(),
        "root": tree.root,
        "total_cumulative_wei": str(sum(c for _, c in entries)),
        "leaves": [
            {
                "account": account,
                "cumulative_wei": str(cumulative),
                "proof": tree.proof(account),
            }
            for account, cumulative in sorted(entries)
        ],
        "rows": [
            {**r, "reward_wei": str(r["reward_wei"]), "cumulative_wei": str(r["cumulative_wei"])}
            for r in figures.rewards
        ],
    }


def write_day_reports(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, day: date,
    override_reason: str | None = None, override_approver: str | None = None,
) -> tuple[DayFigures, WrittenReport, WrittenReport, dict[str, Any], dict[str, Any]]:
    figures = read_day(con, day)
    nav_report = build_nav_report(con, figures, override_reason, override_approver)
    rewards_report = build_rewards_report(figures)
    nav_written = write_report(nav_report, reports_dir / "nav" / f"{day.isoformat()}.json")
    rewards_written = write_report(
        rewards_report, reports_dir / "rewards" / f"{day.isoformat()}.json"
    )
    return figures, nav_written, rewards_written, nav_report, rewards_report


def _hex(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return "0x" + value.hex()


def record_publication(con: duckdb.DuckDBPyConnection, chain_id: int, result: Any) -> None:
    """One ledger row per (day, kind, chain): the first post wins, re-runs change nothing."""
    con.execute(PUBLICATIONS_DDL)
    con.execute(
        "insert into marts.publications values (?, ?, ?, ?, ?, ?, ?, now()) "
        "on conflict do nothing",
        [result.day, result.kind, chain_id, _hex(result.tx_hash), result.block_number,
         "posted", _hex(result.report_hash)],
    )


def record_restatement(
    con: duckdb.DuckDBPyConnection, chain_id: int, day: date, kind: str,
    posted_hash: str | None, new_hash: str, detail: str,
) -> None:
    con.execute(PUBLICATIONS_DDL)
    con.execute(
        "insert into marts.restatements values (?, ?, ?, ?, ?, ?, now()) on conflict do nothing",
        [day, kind, chain_id, posted_hash, new_hash, detail],
    )


# ---------------------------------------------------------------- publishing a day
@dataclass(frozen=True)
class DayPublication:
    day: date
    nav_status: str
    nav_tx: str | None
    rewards_status: str
    rewards_tx: str | None
    nav_report_hash: str
    rewards_report_hash: str
    rewards_root: str


def contract_address(con: duckdb.DuckDBPyConnection, chain_id: int, role: str) -> str:
    row = con.execute(
        "select address from raw.addresses where role = ? and chain_id = ?", [role, chain_id]
    ).fetchone()
    if row is None:
        raise PublishBlocked(
            f"registry/addresses.csv has no '{role}' row for chain {chain_id}: deploy first"
        )
    return row[0]


def last_posted_nav(w3: Any, oracle_address: str) -> LastPosted | None:
    from onchain.build import load_artifact

    oracle = w3.eth.contract(
        address=w3.to_checksum_address(oracle_address), abi=load_artifact("NavOracle")["abi"]
    )
    latest_day = oracle.functions.latestDay().call()
    if latest_day == 0:
        return None
    round_id, answer, *_ = oracle.functions.getRoundData(latest_day).call()
    return LastPosted(day=EPOCH + timedelta(days=round_id), share_price=Decimal(answer) / WEI)


def publish_day(
    con: duckdb.DuckDBPyConnection,
    reports_dir: Path,
    w3: Any,
    day: date,
    dry_run: bool = False,
    override_reason: str | None = None,
    override_approver: str | None = None,
) -> DayPublication:
    """Write the day's reports, pre-flight the guardrails, then post NAV and rewards root.

    An audited override comes from the arguments (run config) or from
    `<data>/overrides/<day>.json`; it is written into the NAV report and recorded on chain.
    """
    from onchain.intents import default_intent_path
    from onchain.publisher import publish_nav, publish_rewards
    from onchain.signer import load_signer
    from quality.overrides import resolve_override
    from quality.preflight import preflight_nav

    chain_id = int(w3.eth.chain_id)
    override = resolve_override(reports_dir.parent, day, override_reason, override_approver)
    if override is not None:
        override_reason, override_approver = override.reason, override.approver
    figures, nav_written, rewards_written, _, rewards_report = write_day_reports(
        con, reports_dir, day, override_reason, override_approver
    )
    oracle = contract_address(con, chain_id, "nav_oracle")
    distributor = contract_address(con, chain_id, "rewards_distributor")
    max_bps = Decimal(
        con.execute("select value from raw.params where name = 'max_share_price_move_bps'")
        .fetchone()[0]
    )
    chain_now = datetime.fromtimestamp(w3.eth.get_block("latest")["timestamp"], tz=timezone.utc)
    now = min(chain_now, datetime.now(timezone.utc))
    last = last_posted_nav(w3, oracle)
    nav = figures.nav
    if last is None or last.day < day:
        check = preflight_nav(
            day, nav["share_price"], nav["backing_ratio"], last, max_bps, now, override_reason
        )
        if not check.passed:
            raise PublishBlocked(f"{day}: " + "; ".join(check.problems))
    signer = load_signer(chain_id)
    intents = default_intent_path(reports_dir.parent)
    nav_result = publish_nav(
        w3, signer, oracle, day,
        to_wei_half_even(nav["share_price"]), to_wei_half_even(nav["nav_usd"]),
        to_wei_half_even(nav["aid_supply"]), nav_written.sha256, dry_run=dry_run,
        intent_path=intents,
        override_reason=(f"{override_reason} (approved by {override_approver})"
                         if override_reason else None),
    )
    rewards_result = publish_rewards(
        w3, signer, distributor, day_number(day), rewards_report["root"],
        int(rewards_report["total_cumulative_wei"]), rewards_written.sha256, dry_run=dry_run,
        intent_path=intents,
    )
    for result, written, kind in (
        (nav_result, nav_written, "nav"), (rewards_result, rewards_written, "rewards")
    ):
        if result.status in ("posted", "already_posted") and not dry_run:
            record_publication(con, chain_id, result)
        elif result.status == "restatement":
            record_restatement(
                con, chain_id, day, kind, _hex(getattr(result, "onchain_report_hash", None)),
                written.sha256_hex, "figures differ from the posted ones; nothing sent",
            )
    return DayPublication(
        day=day,
        nav_status=nav_result.status, nav_tx=_hex(nav_result.tx_hash),
        rewards_status=rewards_result.status, rewards_tx=_hex(rewards_result.tx_hash),
        nav_report_hash=nav_written.sha256_hex, rewards_report_hash=rewards_written.sha256_hex,
        rewards_root=rewards_report["root"],
    )
