"""A 90-day backfill from the UI gives the same marts as 90 daily runs.

The book: the demo generator over 90 days (`generate_offchain`, scale 0.05: 14 deals, 109
assets, one GPU sample an hour) with its on-chain scenario played on a real anvil
(deposits, staking, deal fundings, repayments, fees), loaded once with the production
loaders (`load_inputs` for registry and landing, `ingest_chain_events` for the chain) and
copied into two warehouses:

* A, the UI's single-run backfill: the partitioned `@dbt_assets` of
  `orchestration/assets/dbt.py` materialised by Dagster for the partition range
  first..last in ONE run (the range tags a backfill run carries), so the window reaches
  dbt as AIDNAV_START_DATE / AIDNAV_END_DATE of the whole range;
* B, the schedule's way: 90 one-day windows in order. One Dagster run per partition
  costs about 13 s here (a dbt subprocess per run), 20 minutes for 90, so B drives dbt
  the way the asset does without Dagster around it: `modelling.replay.run_dbt`, the same
  `dbt build` of every node with the window in the same two environment variables
  (`dbt_window_env`, what `dbt_build_invocation` hands the asset), in-process dbtRunner.

Every row of all 7 `marts.fct_*` must be equal on every column, decimals exactly.
The book's events that cross day boundaries are checked to be there first: invoices
paid late and revised, deals funded on later days of the window (the demo's deals mature
12 to 36 months out, none inside it), a GPU node offline 9 days and a robot 2, the market
index stepping weekly, staking balances carried from day to day.

Measured on the 2-core machine shared with other work (load about 5): 7 min 35 s for the
module, of which the book, chain and single Dagster run 56 s and the 90 one-day runs 396 s
(4.4 s each); a one-day run takes 2.7 to 3.4 s when the machine is quieter (about 5 min
for the module).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from modelling.replay import MART_EXPORTS, run_dbt

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("backfill_90")]

DAYS = 90
END = date(2026, 6, 30)
FIRST = END - timedelta(days=DAYS - 1)  # 2026-04-02, the book's inception
MARTS = list(MART_EXPORTS)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def checkpoint(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("checkpoint")
    finally:
        con.close()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """The 90-day demo book with its chain played, ingested into raw; no model built."""
    from web3 import Web3

    from demo import drive_chain, generate_offchain, genesis_timestamp
    from modelling.replay import load_inputs
    from ingestion.chain.events import ingest_chain_events
    from ingestion.registry import load_registry
    from ingestion.warehouse import connect
    from onchain.deploy import ensure_deployed
    from onchain.signer import LOCAL_CHAIN_ID, anvil_test_signer
    from onchain.testing import local_anvil

    root = tmp_path_factory.mktemp("backfill_90_book")
    data = root / "data"
    book = generate_offchain(data, END, days=DAYS, sample_interval_s=3600, progress=False,
                             scale=0.05)
    assert book.first_day == FIRST
    warehouse = root / "warehouse.duckdb"
    load_inputs(warehouse, data)
    with local_anvil(root / "chain", timestamp=genesis_timestamp(FIRST)) as (rpc_url, _):
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
        addresses = ensure_deployed(w3, anvil_test_signer(0), data / "registry", LOCAL_CHAIN_ID)
        drive_chain(w3, data, book, addresses, progress=False)
        con = connect(warehouse)
        try:
            registry = load_registry(con, data / "registry")  # now with the contract rows
            stats = ingest_chain_events(con, w3, registry)
            con.execute("checkpoint")
        finally:
            con.close()
    assert stats.rows_loaded > 100, stats
    return warehouse


def copy_into(src: Path, work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    dst = work / "warehouse.duckdb"
    shutil.copy(src, dst)
    return dst


@pytest.fixture(scope="module")
def backfill(loaded, tmp_path_factory) -> tuple[Path, object]:
    """A: the dbt assets materialised for partitions FIRST..END in one Dagster run."""
    import dagster as dg

    warehouse = copy_into(loaded, tmp_path_factory.mktemp("backfill_90_single_run"))
    with pytest.MonkeyPatch.context() as mp:
        # the dbt subprocess reads the warehouse from the environment; the asset writes
        # the window there too, and the patch puts every variable back afterwards
        mp.setenv("AIDNAV_WAREHOUSE", str(warehouse))
        mp.setenv("AIDNAV_START_DATE", "")
        mp.setenv("AIDNAV_END_DATE", "")
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        from orchestration.assets.dbt import aidnav_dbt_models
        from orchestration.resources import RESOURCES

        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                [aidnav_dbt_models], resources={"dbt": RESOURCES["dbt"]}, instance=instance,
                run_config=QUIET, raise_on_error=False,
                tags={"dagster/asset_partition_range_start": FIRST.isoformat(),
                      "dagster/asset_partition_range_end": END.isoformat()})
    return warehouse, result


@pytest.fixture(scope="module")
def daily(loaded, tmp_path_factory) -> Path:
    """B: one dbt window per day, FIRST..END in order, on a second warehouse."""
    work = tmp_path_factory.mktemp("backfill_90_daily")
    warehouse = copy_into(loaded, work)
    day = FIRST
    while day <= END:
        run_dbt(warehouse, day, day, work)
        day += timedelta(days=1)
    checkpoint(warehouse)  # in-process dbt keeps its DuckDB instance open
    return warehouse


def dump(warehouse: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Per mart: its columns with their types, and every row in a fixed order."""
    con = duckdb.connect(str(warehouse))
    try:
        return {m: (con.execute(f"select column_name, column_type from (describe marts.{m})")
                    .fetchall(),
                    con.execute(f"select * from marts.{m} order by all").fetchall())
                for m in MARTS}
    finally:
        con.close()


def scalar(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def test_the_range_is_one_dagster_run_for_every_partition(backfill):
    _, result = backfill
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    partitions = {e.partition for e in result.get_asset_materialization_events()
                  if e.asset_key.path == ["marts", "fct_nav_daily"]}
    assert len(partitions) == DAYS
    assert min(partitions) == FIRST.isoformat() and max(partitions) == END.isoformat()


def test_the_book_has_events_that_cross_day_boundaries(backfill):
    a, _ = backfill
    for mart in MARTS:
        assert scalar(a, f"select count(distinct day) from marts.{mart}") == (DAYS,), mart
    # invoices: receivables outstanding past due for up to a month, one invoice revised
    late, worst = scalar(a, "select count(distinct day), max(dpd) "
                            "from marts.fct_deal_position_daily where dpd > 0")
    assert late >= 20 and worst >= 20
    assert scalar(a, "select count(distinct day) from marts.fct_deal_position_daily "
                     "where receipts > 0")[0] >= 10
    assert scalar(a, "select count(*) - count(distinct invoice_id) from raw.invoices")[0] >= 1
    # deals funded inside the window, after its first day
    assert scalar(a, f"""select count(*) from (select deal_id, min(day) as first
                         from marts.fct_deal_position_daily group by deal_id)
                         where first > date '{FIRST}'""")[0] >= 4
    # offline streaks carried across days
    assert scalar(a, "select max(offline_streak_days) from marts.fct_gpu_operation_daily")[0] >= 9
    assert scalar(a, "select max(offline_streak_days) from marts.fct_robot_operation_daily")[0] >= 2
    # the market index steps down week by week inside the window
    assert scalar(a, "select min(n) from (select count(distinct market_index) as n "
                     "from marts.fct_asset_valuation_daily group by asset_id)")[0] >= 12
    # staking: balances and cumulative rewards carried from day to day
    accounts, last = scalar(a, "select count(distinct account), max(cumulative_wei) "
                               "from marts.fct_staker_rewards_daily")
    assert accounts >= 10 and last > 0
    assert scalar(a, "select count(distinct share_price) from marts.fct_nav_daily")[0] == DAYS


def test_one_90_day_backfill_run_equals_90_daily_runs(backfill, daily):
    a, result = backfill
    assert result.success
    single, by_day = dump(a), dump(daily)
    problems: list[str] = []
    for mart in MARTS:
        (cols_a, rows_a), (cols_b, rows_b) = single[mart], by_day[mart]
        assert rows_a, f"{mart}: no rows"
        if cols_a != cols_b:
            problems.append(f"{mart}: columns {cols_a} != {cols_b}")
            continue
        if len(rows_a) != len(rows_b):
            only_a = sorted(set(rows_a) - set(rows_b))[:3]
            only_b = sorted(set(rows_b) - set(rows_a))[:3]
            problems.append(f"{mart}: {len(rows_a)} rows in one run, {len(rows_b)} by day; "
                            f"only in one run {only_a}; only by day {only_b}")
            continue
        differing = [(ra, rb) for ra, rb in zip(rows_a, rows_b) if ra != rb]
        for ra, rb in differing[:3]:
            cells = [f"{c[0]}: {x!r} != {y!r}" for c, x, y in zip(cols_a, ra, rb) if x != y]
            problems.append(f"{mart} {ra[:2]}: {'; '.join(cells)}")
        if len(differing) > 3:
            problems.append(f"{mart}: {len(differing) - 3} more rows differ")
    assert not problems, "\n".join(problems)
