"""Publish one day: build the canonical reports from the marts, pre-flight, post on chain.

Plain Python (no Dagster): the orchestration's publish asset and `aidnav run` call
`publish_day`. Every step is idempotent, and the on-chain publisher reads the chain before
sending, so a day is never posted twice.

A posted report is immutable: once `reports/<kind>/<day>.json` is on chain it is never
written again, and every later run posts (to a chain that still lacks it) that same report.
When a re-run gives other figures for a posted day (a late invoice version, a corrected
registry), the recomputed report is written beside it as `<day>.restated-<n>.json` naming
the posted hash it restates, and `marts.restatements` gets one row per figure that changed.
A new input that leaves the figures as they are (the same content delivered again under
another name) is no restatement: nothing is written, nothing recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import duckdb

from ledger.exact import WEI
from publishing.reports import WrittenReport, code_version, write_report
from onchain.days import day_from_number, day_number
from publishing.preflight import LastPosted, preflight_day, publication_clock

log = logging.getLogger(__name__)

PUBLICATIONS_DDL = """
create schema if not exists marts;
create table if not exists marts.publications (
    day date, kind varchar, chain_id bigint, tx_hash varchar, block_number bigint,
    status varchar, report_hash varchar, posted_at timestamptz,
    primary key (day, kind, chain_id));
create table if not exists marts.restatements (
    day date, kind varchar, figure varchar, restatement integer,
    posted_value decimal(38, 18), restated_value decimal(38, 18), difference decimal(38, 18),
    posted_text varchar, restated_text varchar,
    posted_report_hash varchar, restated_report_hash varchar, restated_report varchar,
    cause varchar, detected_at timestamptz,
    primary key (day, figure, restated_report_hash));
"""

# The figures a report posts on chain, per kind; a restatement is a change of one of them.
POSTED_FIGURES: dict[str, tuple[str, ...]] = {
    "nav": ("nav_usd", "share_price", "aid_supply"),
    "rewards": ("rewards_root", "rewards_total"),
}
REPORT_KINDS = tuple(POSTED_FIGURES)

NAV_COLUMNS = (
    "carrying_value_total", "reserves_usd", "offchain_reserves_usd", "gross_assets",
    "protocol_fee", "performance_fee", "fees_payable", "nav_usd", "aid_supply",
    "backing_ratio", "said_supply", "said_assets", "share_price", "apy_7d", "apy_30d",
)


class PublishBlocked(RuntimeError):
    """A guardrail refused the publication; nothing was sent."""


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
    """The inputs a day's figures stand on: landing content delivered up to D+1, chain to D.

    Content, not names: each distinct (source, sha256) once, so the same bytes delivered
    again under another file name leave the report, and its hash, as they were.
    """
    files = con.execute("select source, file, sha256 from raw.ingested_files").fetchall()
    cutoff = (day + timedelta(days=1)).isoformat()
    kept = sorted({
        (s, h) for s, f, h in files if _folder_date(f) is None or _folder_date(f) <= cutoff
    })
    head = con.execute(
        "select max(block_number) from raw.chain_events where block_timestamp < ?",
        [datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)],
    ).fetchone()[0]
    return {"landing_content": [{"source": s, "sha256": h} for s, h in kept],
            "chain_last_block": head}


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


def mart_rewards_root(con: duckdb.DuckDBPyConnection, day: date) -> tuple[str, int]:
    """The day's root and cumulative total from `marts.fct_rewards_roots_daily`: what is
    posted."""
    row = con.execute(
        "select root, total_cumulative_wei from marts.fct_rewards_roots_daily where day = ?",
        [day],
    ).fetchone()
    if row is None:
        raise PublishBlocked(
            f"marts.fct_rewards_roots_daily has no row for {day}: run the models first")
    return str(row[0]), int(row[1])


def build_rewards_report(con: duckdb.DuckDBPyConnection, figures: DayFigures) -> dict[str, Any]:
    """The rewards report: the mart's root and total, with every leaf and its proof.

    The tree is built again from `fct_staker_rewards_daily` only to give the proofs and to
    assert that it has the mart's root and total: when they differ nothing is published.
    """
    from onchain.merkle import build_tree

    root, total = mart_rewards_root(con, figures.day)
    entries = [(r["account"], r["cumulative_wei"]) for r in figures.rewards
               if r["cumulative_wei"] > 0]
    tree = build_tree(entries)
    rebuilt_total = sum(c for _, c in entries)
    if tree.root.lower() != root.lower() or rebuilt_total != total:
        raise PublishBlocked(
            f"{figures.day}: marts.fct_rewards_roots_daily has root {root} (total {total} wei) "
            f"but the leaves of marts.fct_staker_rewards_daily give {tree.root} (total "
            f"{rebuilt_total} wei): nothing published"
        )
    return {
        "kind": "rewards",
        "epoch": day_number(figures.day),
        "day": figures.day,
        "code_version": code_version(),
        "root": root,
        "total_cumulative_wei": str(total),
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


# ---------------------------------------------------------------- posted reports, restatements
def report_path(reports_dir: Path, kind: str, day: date) -> Path:
    """The canonical report of a day: the one whose hash is posted, never rewritten."""
    return Path(reports_dir) / kind / f"{day.isoformat()}.json"


def restated_path(reports_dir: Path, kind: str, day: date, n: int) -> Path:
    return Path(reports_dir) / kind / f"{day.isoformat()}.restated-{n}.json"


def restated_reports(reports_dir: Path, kind: str, day: date) -> list[tuple[int, Path]]:
    """The restatements of a day on disk, oldest first."""
    prefix = f"{day.isoformat()}.restated-"
    found = []
    for path in (Path(reports_dir) / kind).glob(f"{prefix}*.json"):
        number = path.name[len(prefix):-len(".json")]
        if number.isdigit():
            found.append((int(number), path))
    return sorted(found)


def posted_figures(kind: str, report: dict[str, Any]) -> dict[str, Decimal | str]:
    """The figures of `report` that go on chain (`POSTED_FIGURES`), exact; a report read
    back from its JSON gives the same values as the one built in memory."""
    if kind == "nav":
        return {f: Decimal(str(report["nav"][f])) for f in POSTED_FIGURES["nav"]}
    return {"rewards_root": str(report["root"]).lower(),
            "rewards_total": Decimal(str(report["total_cumulative_wei"])) / WEI}


def _sha256_hex(path: Path) -> str:
    return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def posted_hashes(con: duckdb.DuckDBPyConnection, day: date, kind: str) -> set[str]:
    """The report hashes recorded as posted for the day and kind, on any chain."""
    con.execute(PUBLICATIONS_DDL)
    rows = con.execute(
        "select report_hash from marts.publications where day = ? and kind = ? "
        "and status = 'posted' and report_hash is not null", [day, kind]).fetchall()
    return {r[0].lower() for r in rows}


@dataclass(frozen=True)
class ReportToPost:
    """What is published for one kind of a day: the canonical report (posted or new)."""

    kind: str
    report: dict[str, Any]
    written: WrittenReport
    posted: bool  # already on a chain: immutable
    restated: WrittenReport | None = None  # the newest restatement, when figures differ


def _read_report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def settle_report(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, kind: str, day: date,
    fresh: dict[str, Any], onchain_hashes: Iterable[str] = (),
) -> ReportToPost:
    """Decide which report of `kind` is published for `day` and write what is new.

    Not yet posted: `fresh` becomes the canonical report. Posted (recorded in
    `marts.publications`, or a chain holds the canonical file's hash): the canonical file
    stays as it is and is what is published; when `fresh` has other figures it is written
    as the next restatement (unless the newest one has the same figures) and recorded.
    """
    canonical = report_path(reports_dir, kind, day)
    recorded = posted_hashes(con, day, kind)
    on_disk = _sha256_hex(canonical) if canonical.exists() else None
    if recorded and on_disk not in recorded:
        state = "is missing" if on_disk is None else f"hashes to {on_disk}"
        raise PublishBlocked(
            f"{canonical}: {state}, but {', '.join(sorted(recorded))} was posted for {day}; "
            "a posted report is never rewritten: restore the posted file"
        )
    posted = on_disk is not None and (
        on_disk in recorded or on_disk in {h.lower() for h in onchain_hashes if h})
    if not posted:
        return ReportToPost(kind, fresh, write_report(fresh, canonical), posted=False)

    report = _read_report(canonical)
    written = WrittenReport(path=canonical, sha256=bytes.fromhex(on_disk[2:]))
    before, after = posted_figures(kind, report), posted_figures(kind, fresh)
    if before == after:
        return ReportToPost(kind, report, written, posted=True)
    earlier = restated_reports(reports_dir, kind, day)
    if earlier and posted_figures(kind, _read_report(earlier[-1][1])) == after:
        path = earlier[-1][1]
        latest = WrittenReport(path=path, sha256=bytes.fromhex(_sha256_hex(path)[2:]))
        return ReportToPost(kind, report, written, posted=True, restated=latest)
    number = earlier[-1][0] + 1 if earlier else 1
    restated = write_report(
        {**fresh, "restates": {"report": canonical.name, "report_hash": on_disk,
                               "restatement": number}},
        restated_path(reports_dir, kind, day, number),
    )
    record_restatement(con, day, kind, number, before, after, on_disk, restated,
                       restatement_cause(con, day, kind))
    log.warning("%s %s restated (not posted): %s", kind, day, ", ".join(
        f"{f} {before[f]} -> {after[f]}" for f in before if before[f] != after[f]))
    return ReportToPost(kind, report, written, posted=True, restated=restated)


def restatement_cause(con: duckdb.DuckDBPyConnection, day: date, kind: str) -> str:
    """The deliveries loaded since the day was first posted (what may have changed it)."""
    first = con.execute(
        "select min(posted_at) from marts.publications where day = ? and kind = ? "
        "and status = 'posted'", [day, kind]).fetchone()[0]
    files = [] if first is None else [
        f"{s}:{f}" for s, f in con.execute(
            "select source, file from raw.ingested_files where loaded_at > ? "
            "order by source, file", [first]).fetchall()]
    if not files:
        return "no landing delivery since posted: registry or chain data changed"
    shown = ", ".join(files[:20]) + (f" and {len(files) - 20} more" if len(files) > 20 else "")
    return f"deliveries since posted: {shown}"


def _restatements_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledgers; a warehouse from before figures were recorded keeps its old
    restatement rows as `marts.restatements_without_figures`."""
    columns = {r[0] for r in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'restatements'").fetchall()}
    if columns and "figure" not in columns:
        con.execute("alter table marts.restatements rename to restatements_without_figures")
    con.execute(PUBLICATIONS_DDL)


def record_restatement(
    con: duckdb.DuckDBPyConnection, day: date, kind: str, number: int,
    posted: dict[str, Decimal | str], restated: dict[str, Decimal | str], posted_hash: str,
    restated_report: WrittenReport, cause: str,
) -> None:
    """One row per figure that changed: posted value, restated value, their difference."""
    _restatements_table(con)
    for figure in POSTED_FIGURES[kind]:
        old, new = posted[figure], restated[figure]
        if old == new:
            continue
        numeric = isinstance(old, Decimal)
        con.execute(
            "insert into marts.restatements values "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()) on conflict do nothing",
            [day, kind, figure, number,
             old if numeric else None, new if numeric else None,
             (new - old) if numeric else None,  # type: ignore[operator]
             None if numeric else old, None if numeric else new,
             posted_hash, restated_report.sha256_hex, restated_report.path.name, cause],
        )


def _hex(value: bytes | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return "0x" + value.hex()


def record_publication(con: duckdb.DuckDBPyConnection, chain_id: int, result: Any) -> None:
    """One ledger row per (day, kind, chain): the first post wins, re-runs change nothing
    (a `pending` row of a chain that missed the day becomes `posted`)."""
    _restatements_table(con)
    con.execute(
        "insert into marts.publications values (?, ?, ?, ?, ?, ?, ?, now()) "
        "on conflict (day, kind, chain_id) do update set tx_hash = excluded.tx_hash, "
        "block_number = excluded.block_number, status = excluded.status, "
        "report_hash = excluded.report_hash, posted_at = excluded.posted_at "
        "where publications.status <> 'posted'",
        [result.day, result.kind, chain_id, _hex(result.tx_hash), result.block_number,
         "posted", _hex(result.report_hash)],
    )


# ---------------------------------------------------------------- publishing a day
@dataclass(frozen=True)
class DayPublication:
    day: date
    nav_status: str
    nav_tx: str | None
    rewards_status: str
    rewards_tx: str | None
    nav_report_hash: str  # the published (canonical) reports
    rewards_report_hash: str
    rewards_root: str
    nav_restated_hash: str | None = None  # the newest restatement, when figures changed
    rewards_restated_hash: str | None = None


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
    return LastPosted(day=day_from_number(round_id), share_price=Decimal(answer) / WEI)


def onchain_report_hashes(con: duckdb.DuckDBPyConnection, w3: Any, day: date) -> dict[str, str]:
    """The report hashes a chain holds for the day, per kind (absent when not posted)."""
    from onchain.contracts_client import contract_at

    chain_id = int(w3.eth.chain_id)
    number = day_number(day)
    found: dict[str, str] = {}
    oracle = contract_at(w3, "NavOracle", contract_address(con, chain_id, "nav_oracle"))
    *_, nav_hash, posted_at = oracle.functions.navOf(number).call()
    if posted_at:
        found["nav"] = "0x" + bytes(nav_hash).hex()
    distributor = contract_at(w3, "RewardsDistributor",
                              contract_address(con, chain_id, "rewards_distributor"))
    _root, _total, rewards_hash, proposed_at, _valid, _accepted, revoked = \
        distributor.functions.epochOf(number).call()
    if proposed_at and not revoked:
        found["rewards"] = "0x" + bytes(rewards_hash).hex()
    return found


@dataclass(frozen=True)
class PreparedDay:
    """A day's reports, settled once for every chain it goes to."""

    day: date
    nav: ReportToPost
    rewards: ReportToPost
    override_reason: str | None
    override_approver: str | None


def prepare_day(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, day: date,
    override_reason: str | None = None, override_approver: str | None = None,
    onchain_hashes: Iterable[dict[str, str]] = (),
) -> PreparedDay:
    """Build the day's reports from the marts and settle them against what was posted
    (`settle_report`); `onchain_hashes`: what each reachable chain holds for the day."""
    from quality.overrides import resolve_override

    override = resolve_override(reports_dir.parent, day, override_reason, override_approver)
    if override is not None:
        override_reason, override_approver = override.reason, override.approver
    figures = read_day(con, day)
    fresh = {"nav": build_nav_report(con, figures, override_reason, override_approver),
             "rewards": build_rewards_report(con, figures)}
    held = list(onchain_hashes)
    settled = {
        kind: settle_report(con, reports_dir, kind, day, fresh[kind],
                            [h[kind] for h in held if kind in h])
        for kind in REPORT_KINDS
    }
    if settled["nav"].posted:  # the override of a posted day is the posted report's
        posted_override = settled["nav"].report.get("override") or {}
        override_reason = posted_override.get("reason")
        override_approver = posted_override.get("approver")
    return PreparedDay(day, settled["nav"], settled["rewards"], override_reason,
                       override_approver)


def publish_prepared(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, w3: Any, prepared: PreparedDay,
    dry_run: bool = False, signer: Any = None,
) -> DayPublication:
    """Pre-flight against this chain, then post the prepared NAV and rewards root."""
    from publishing.intents import default_intent_path
    from publishing.publisher import publish_nav, publish_rewards
    from onchain.signer import load_signer
    day = prepared.day
    chain_id = int(w3.eth.chain_id)
    nav_report, rewards_report = prepared.nav.report, prepared.rewards.report
    oracle = contract_address(con, chain_id, "nav_oracle")
    distributor = contract_address(con, chain_id, "rewards_distributor")
    last = last_posted_nav(w3, oracle)
    nav = nav_report["nav"]
    override_reason, override_approver = prepared.override_reason, prepared.override_approver
    if last is None or last.day < day:
        backing = nav.get("backing_ratio")
        verdict = preflight_day(
            con, day, publication_clock(w3), last, reports_dir.parent, override_reason,
            override_approver,
            (Decimal(str(nav["share_price"])), None if backing is None else Decimal(str(backing))),
        )
        if not verdict.passed:
            raise PublishBlocked("; ".join(verdict.problems))
    signer = signer or load_signer(chain_id)
    intents = default_intent_path(reports_dir.parent)
    onchain = nav_report["onchain"]
    nav_result = publish_nav(
        w3, signer, oracle, day,
        int(onchain["share_price"]), int(onchain["nav_usd"]), int(onchain["aid_supply"]),
        prepared.nav.written.sha256, dry_run=dry_run, intent_path=intents,
        override_reason=(f"{override_reason} (approved by {override_approver})"
                         if override_reason else None),
    )
    rewards_result = publish_rewards(
        w3, signer, distributor, day_number(day), rewards_report["root"],
        int(rewards_report["total_cumulative_wei"]), prepared.rewards.written.sha256,
        dry_run=dry_run, intent_path=intents,
    )
    for result in (nav_result, rewards_result):
        if result.status in ("posted", "already_posted") and not dry_run:
            record_publication(con, chain_id, result)
        elif result.status == "restatement":  # the chain holds a report this data dir lacks
            log.error("%s of %s on chain %s: %s", result.kind, day, chain_id, result.detail)
    return DayPublication(
        day=day,
        nav_status=nav_result.status, nav_tx=_hex(nav_result.tx_hash),
        rewards_status=rewards_result.status, rewards_tx=_hex(rewards_result.tx_hash),
        nav_report_hash=prepared.nav.written.sha256_hex,
        rewards_report_hash=prepared.rewards.written.sha256_hex,
        rewards_root=rewards_report["root"],
        nav_restated_hash=prepared.nav.restated and prepared.nav.restated.sha256_hex,
        rewards_restated_hash=prepared.rewards.restated and prepared.rewards.restated.sha256_hex,
    )


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
    A posted day's report is published as posted (see `settle_report`).
    """
    prepared = prepare_day(con, reports_dir, day, override_reason, override_approver,
                           [onchain_report_hashes(con, w3, day)])
    return publish_prepared(con, reports_dir, w3, prepared, dry_run=dry_run)


def posted_report_figures(
    reports_dir: Path, day: date,
) -> tuple[Decimal, Decimal, Decimal | None]:
    """NAV, share price and backing ratio of the day's posted (canonical) NAV report."""
    nav = _read_report(report_path(reports_dir, "nav", day))["nav"]
    backing = nav.get("backing_ratio")
    return (Decimal(str(nav["nav_usd"])), Decimal(str(nav["share_price"])),
            None if backing is None else Decimal(str(backing)))


# ---------------------------------------------------------------- every configured chain
@dataclass(frozen=True)
class ChainMiss:
    """A day a chain did not get in this run; it stays pending and the next run posts it."""

    chain_id: int
    rpc_url: str
    day: date
    error: str


@dataclass(frozen=True)
class ChainPublication:
    chain_id: int
    publication: DayPublication


def mark_pending(con: duckdb.DuckDBPyConnection, chain_id: int, prepared: PreparedDay) -> None:
    """A publication row `pending` per kind: the day is owed to this chain."""
    _restatements_table(con)
    for ready in (prepared.nav, prepared.rewards):
        con.execute(
            "insert into marts.publications values (?, ?, ?, null, null, 'pending', ?, now()) "
            "on conflict do nothing",
            [prepared.day, ready.kind, chain_id, ready.written.sha256_hex])


def pending_days(con: duckdb.DuckDBPyConnection, chain_id: int) -> list[date]:
    _restatements_table(con)
    return [r[0] for r in con.execute(
        "select distinct day from marts.publications where chain_id = ? and status = 'pending' "
        "order by day", [chain_id]).fetchall()]


def publish_days_to_targets(
    con: duckdb.DuckDBPyConnection,
    reports_dir: Path,
    targets: Iterable[Any],
    days: Iterable[date],
    connect: Any,
    dry_run: bool = False,
    override_reason: str | None = None,
    override_approver: str | None = None,
    chain_dir: Path | None = None,
    signer_env: Mapping[str, str] | None = None,
) -> tuple[list[ChainPublication], list[ChainMiss]]:
    """Publish `days` to every target (`onchain.targets.ChainTarget`), each through the same
    path: pre-flight against that chain, post, one publication row per chain. The signer
    comes from `signer_env` (Dagster's `EnvVar`s), else the process environment.

    A chain that cannot be reached (or is on another chain id, or has no contracts in
    `registry/addresses.csv`) misses the day: its rows
    stay `pending`, the other chains still post, and the next run posts that chain's
    pending days first, in day order. A day no chain could take raises the first error.
    """
    from publishing.publisher import RpcUnavailable
    from onchain.transactions import TRANSIENT_ERRORS

    targets = list(targets)
    wanted = sorted(set(days))
    owed = {t.chain_id: set(pending_days(con, t.chain_id)) for t in targets}
    down: dict[int, str] = {}
    w3s: dict[int, Any] = {}
    for target in targets:
        try:
            w3s[target.chain_id] = connect(target)
            node = int(w3s[target.chain_id].eth.chain_id)
            if node != target.chain_id:
                down[target.chain_id] = (f"node at {target.rpc_url} is on chain {node}, "
                                         f"configured {target.chain_id}")
            else:
                for role in ("nav_oracle", "rewards_distributor"):
                    contract_address(con, target.chain_id, role)
        except PublishBlocked as exc:  # no contracts recorded for that chain
            down[target.chain_id] = str(exc)
        except TRANSIENT_ERRORS as exc:
            down[target.chain_id] = (f"RPC node {target.rpc_url} unreachable "
                                     f"({type(exc).__name__})")
    published: list[ChainPublication] = []
    misses: list[ChainMiss] = []
    for day in sorted(set(wanted).union(*owed.values())):
        for_day = [t for t in targets if day in wanted or day in owed[t.chain_id]]
        held = []
        for target in for_day:
            if target.chain_id in down:
                continue
            try:
                held.append(onchain_report_hashes(con, w3s[target.chain_id], day))
            except TRANSIENT_ERRORS as exc:
                down[target.chain_id] = (f"RPC node {target.rpc_url} unreachable "
                                         f"({type(exc).__name__})")
        prepared = prepare_day(con, reports_dir, day, override_reason, override_approver, held)
        first_error: Exception | None = None
        for target in for_day:
            if target.chain_id not in down:
                try:
                    result = publish_prepared(con, reports_dir, w3s[target.chain_id], prepared,
                                              dry_run=dry_run,
                                              signer=_signer_for(target.chain_id, chain_dir,
                                                                 signer_env))
                    published.append(ChainPublication(target.chain_id, result))
                    continue
                except (RpcUnavailable, *TRANSIENT_ERRORS) as exc:
                    down[target.chain_id] = str(exc) or type(exc).__name__
                    first_error = first_error or exc
            if not dry_run:
                mark_pending(con, target.chain_id, prepared)
            misses.append(ChainMiss(target.chain_id, target.rpc_url, day,
                                    down[target.chain_id]))
            log.error("chain %s missed %s: %s; the next run posts it", target.chain_id, day,
                      down[target.chain_id])
        if day in wanted and not any(p.publication.day == day for p in published):
            raise first_error or PublishBlocked(
                f"{day}: no chain could take it: "
                + "; ".join(f"chain {m.chain_id}: {m.error}" for m in misses if m.day == day))
    return published, misses


def _signer_for(chain_id: int, chain_dir: Path | None,
                env: Mapping[str, str] | None = None) -> Any:
    """The configured signer (`env`, else the process environment); on a further local
    anvil this data directory started (and with no key configured), anvil's test key, as on
    the main local chain."""
    import os

    from onchain.anvil import is_further_target_anvil
    from onchain.signer import ENV_KEY, ENV_KEYSTORE, anvil_test_signer, load_signer

    env = os.environ if env is None else env
    configured = env.get(ENV_KEY, "").strip() or env.get(ENV_KEYSTORE, "").strip()
    if not configured and chain_dir is not None and is_further_target_anvil(chain_dir, chain_id):
        return anvil_test_signer(0)
    return load_signer(chain_id, env)
