"""The blocking check and the publisher judge a day with the same pre-flight: on the worked
example's loss day (2026-03-03, -143.59 bps from 2026-03-02's 1.059842, beyond the 100 bps
guardrail) an override without an approver is refused by both, with the same words, and
nothing is posted; with its approver the day posts."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from web3 import Web3

from ingestion.warehouse import connect
from onchain.contracts_client import contract_at
from onchain.days import day_number
from onchain.deploy import ensure_deployed
from onchain.signer import anvil_test_signer
from onchain.testing import local_anvil
from publishing.preflight import preflight_days, publication_clock
from publishing.publication import PublishBlocked, contract_address, last_posted_nav, publish_day

pytestmark = pytest.mark.chain

POSTED, LOSS_DAY = date(2026, 3, 2), date(2026, 3, 3)
GENESIS = int(datetime(2026, 3, 15, tzinfo=timezone.utc).timestamp())
CHAIN_ID = 31337
REASON = "impairment of D-ROB-FIX"


def test_an_override_without_approver_is_refused_by_the_check_and_the_publisher(
    example_warehouse: Path, tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(example_warehouse, data / "warehouse.duckdb")
    reports = data / "reports"
    with local_anvil(tmp_path / "anvil", timestamp=GENESIS) as (rpc_url, _stop):
        w3 = Web3(Web3.HTTPProvider(rpc_url))
        deployed = ensure_deployed(w3, anvil_test_signer(0), tmp_path / "registry", CHAIN_ID)
        con = connect(data / "warehouse.duckdb")
        try:
            for role in ("nav_oracle", "rewards_distributor"):
                con.execute("insert into raw.addresses values (?, ?, ?, ?)",
                            [CHAIN_ID, role, deployed[role], role])
            assert publish_day(con, reports, w3, POSTED).nav_status == "posted"
            oracle = contract_at(w3, "NavOracle", contract_address(con, CHAIN_ID, "nav_oracle"))

            # the blocking check's verdict on the day, at the chain's clock
            [verdict] = preflight_days(
                con, [LOSS_DAY], publication_clock(w3),
                last_posted_nav(w3, oracle.address), data, REASON, None)
            assert verdict.problems == (
                f"{LOSS_DAY}: override '{REASON}' has no approver: set override_approver",
                f"{LOSS_DAY}: share price moves 143.59 bps from 1.059842441312184571 (posted "
                f"for {POSTED}) to 1.044623814448746185, beyond the 100 bps guardrail; "
                "record an audited override to publish",
            )
            # the publisher refuses it the same way, and sends nothing
            with pytest.raises(PublishBlocked) as refused:
                publish_day(con, reports, w3, LOSS_DAY, override_reason=REASON)
            assert str(refused.value) == "; ".join(verdict.problems)
            assert oracle.functions.latestDay().call() == day_number(POSTED)

            # with its approver, both accept it and the day posts
            [verdict] = preflight_days(
                con, [LOSS_DAY], publication_clock(w3),
                last_posted_nav(w3, oracle.address), data, REASON, "risk")
            assert verdict.passed, verdict.problems
            published = publish_day(con, reports, w3, LOSS_DAY, override_reason=REASON,
                                    override_approver="risk")
            assert published.nav_status == "posted"
            assert oracle.functions.latestDay().call() == day_number(LOSS_DAY)
            report = json.loads((reports / "nav" / f"{LOSS_DAY}.json").read_text())
            assert report["override"] == {"reason": REASON, "approver": "risk"}
        finally:
            con.close()
