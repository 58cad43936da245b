"""Each expectation suite and the rewards budget, end to end: a small demo book on a real
anvil, one bad input (or one model regression), `aidnav run` for the day fails with a
message naming the check and the cause (expectation, column, value), the failing raw rows
are in the quarantine, and the oracle's `latestDay()` does not move.

Raw data goes bad the way it would in operation: a registry edit or a landing delivery
that the loaders accept but the suite refuses, or, where the loader already refuses
everything the suite checks, a row written into the raw table past the loader. A mart can
only go bad through a wrong model, so those tests run the day against a copy of the dbt
project with one model edited (AIDNAV_DBT_PROJECT_DIR).

The tests share one book with D1 posted; each runs D2 (D3 for the telemetry freshness) and
leaves the book as it found it, so their order does not matter."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from pathlib import Path

import duckdb
import pytest
from demo.book import fleet_key_name
from demo.gpu_telemetry import sign_batch
from tests.quality.anvil_book import D1, D2, D3, Book, book_with_d1_posted, run_aidnav

pytestmark = [pytest.mark.chain, pytest.mark.slow, pytest.mark.xdist_group("quality_suites")]

MARTS = ("fct_nav_daily", "fct_deal_position_daily", "fct_gpu_operation_daily",
         "fct_robot_operation_daily", "fct_asset_valuation_daily", "fct_staker_rewards_daily",
         "fct_rewards_roots_daily")
HELD_BACK = "held_back_gpu_telemetry"


def _hold_back_d3_telemetry(b: Book) -> None:
    # the node agents' D3 deliveries never arrive (the freshness test runs D3)
    shutil.move(str(b.data / "landing" / "gpu_telemetry" / D3.isoformat()),
                b.data.parent / HELD_BACK)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Book]:
    with book_with_d1_posted(tmp_path_factory.mktemp("quality_suites"),
                             _hold_back_d3_telemetry) as b:
        yield b


@pytest.fixture(scope="module")
def dbt_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the dbt project with its own target/ (parsed on its first run)."""
    repo_project = Path(__file__).resolve().parents[2] / "dbt_project"
    copy = tmp_path_factory.mktemp("dbt_copy") / "dbt_project"
    shutil.copytree(repo_project, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


@pytest.fixture(autouse=True)
def restored(book: Book) -> Iterator[None]:
    """After each test: drop the quarantine rows the suites wrote and the mart rows a failed
    run wrote past D1 (a clean run rebuilds them), so the book is as the fixture left it."""
    yield
    with _warehouse(book) as con:
        con.execute("delete from raw.quarantine where source like 'quality:%'")
        for mart in MARTS:
            con.execute(f"delete from marts.{mart} where day > ?", [D1])


class _warehouse:
    def __init__(self, book: Book):
        self.path = str(book.warehouse)

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.con = duckdb.connect(self.path)
        return self.con

    def __exit__(self, *exc) -> None:
        self.con.close()


def _blocked(book: Book, day: date, check: str, *causes: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `day`; it must fail on `check` with every fragment of `causes` in the message,
    and nothing may be posted."""
    posted = book.latest_day()
    assert posted == D1
    refused = run_aidnav(["run", "--date", day.isoformat()], env or book.env)
    failed = refused.stderr[refused.stderr.find("daily_nav failed"):]
    assert refused.returncode == 1, refused.stdout[-2000:] + refused.stderr[-3000:]
    assert f"check {check} failed" in failed, failed
    line = next(x for x in failed.splitlines() if f"check {check} failed" in x)
    for cause in causes:
        assert cause in line, f"{cause!r} not in {line!r}"
    # this check alone failed (a blocking failure), so it alone kept the day off chain, and
    # the run's last line names it
    assert re.findall(r"^  check (\S+) failed on", failed, re.M) == [check], failed
    last = failed.strip().splitlines()[-1]
    assert last.startswith("error: ") and check in last, failed
    assert book.latest_day() == posted
    assert not (book.data / "reports" / "nav" / f"{day}.json").exists()
    return refused


def _quarantined(book: Book, table: str) -> list[tuple]:
    with _warehouse(book) as con:
        return con.execute("select file, line, field, reason, record from raw.quarantine "
                           "where source = ? order by file, line", [f"quality:{table}"]).fetchall()


def _edit_csv(path: Path, key: str, value: str, **changes: str) -> None:
    """Set `changes` on the row whose column `key` is `value`."""
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    hit = [r for r in rows if r[key] == value]
    assert len(hit) == 1, f"{path.name} has no single row {key}={value}"
    hit[0].update(changes)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


@pytest.fixture
def registry(book: Book) -> Iterator[Path]:
    """The registry folder; every CSV is put back as it was after the test."""
    folder = book.data / "registry"
    saved = {p: p.read_bytes() for p in folder.glob("*.csv")}
    yield folder
    for p, data in saved.items():
        p.write_bytes(data)


def _forget_delivery(book: Book, rel: str, table: str) -> None:
    """Take a landing file back out: the file, its rows and its ledger entry."""
    (book.data / "landing" / rel).unlink()
    (book.data / "landing" / f"{rel}.sig").unlink(missing_ok=True)
    with _warehouse(book) as con:
        con.execute(f"delete from raw.{table} where source_file = ?", [rel])
        con.execute("delete from raw.ingested_files where file = ?", [rel])


# ---------------------------------------------------------------- registry


def test_providers_bad_rows_are_stopped_by_the_registry_loader_before_the_suite(
        book: Book, registry: Path):
    """suite_providers cannot be tripped end to end: the registry loader already refuses
    every row it checks (a missing id or date, a duplicate provider_id) and the registry
    tables are replaced whole at the start of every run, so neither a registry edit nor a
    row written into raw.providers reaches the check. The same bad partition is stopped one
    step earlier, with the file, line and field named, and nothing is posted."""
    path = registry / "providers.csv"
    lines = path.read_text().splitlines()
    # a provider entered twice, the second time with another onboarding date
    first = next(csv.reader([lines[1]]))
    path.write_text("\n".join([*lines, ",".join(
        [first[0], f'"{first[1]}"', *first[2:4], "2026-01-01"])]) + "\n")
    posted = book.latest_day()
    refused = book.run(D2)
    assert refused.returncode == 2  # a registry to correct: the operator's slip
    assert (f"providers.csv, line {len(lines) + 1}, field 'provider_id': expected a unique "
            f"value (already on line 2) (got '{first[0]}')") in refused.stderr
    assert "check suite_providers failed" not in refused.stderr
    assert book.latest_day() == posted
    assert not (book.data / "reports" / "nav" / f"{D2}.json").exists()


def test_a_minimum_collateral_ratio_entered_as_a_percentage_blocks_the_day(
        book: Book, registry: Path):
    """Registry edit the loader accepts (it only asks for a number >= 0): D-TH-001's
    min_collateral_ratio typed as 130 (percent) instead of 1.30."""
    _edit_csv(registry / "deals.csv", "deal_id", "D-TH-001", min_collateral_ratio="130")
    _blocked(book, D2, "suite_deals",
             "raw.deals: expect_column_values_to_be_between on min_collateral_ratio: "
             "1 row(s), e.g. [130.0]")
    [(file, line, field, reason, record)] = _quarantined(book, "raw.deals")
    assert (file, line, field) == ("raw.deals", None, "min_collateral_ratio")
    assert json.loads(record)["deal_id"] == "D-TH-001"


def test_an_asset_without_its_purchase_price_blocks_the_day(book: Book, registry: Path):
    """Registry edit the loader accepts (a number >= 0): a GPU of D-TH-001 entered with a
    purchase price of 0 before its invoice was booked."""
    path = registry / "assets.csv"
    gpu = next(r for r in csv.DictReader(io.StringIO(path.read_text()))
               if r["deal_id"] == "D-TH-001")["asset_id"]
    _edit_csv(path, "asset_id", gpu, purchase_price_usd="0")
    _blocked(book, D2, "suite_assets",
             "raw.assets: expect_column_values_to_be_between on purchase_price_usd: "
             "1 row(s), e.g. [0.0]")
    [(file, line, field, reason, record)] = _quarantined(book, "raw.assets")
    assert (file, field) == ("raw.assets", "purchase_price_usd")
    assert json.loads(record)["asset_id"] == gpu


def test_a_price_index_entered_as_a_percentage_blocks_the_day(book: Book, registry: Path):
    """Registry edit the loader accepts (a number >= 0): D2's H100 market index typed as
    99.6 (percent) instead of 0.996."""
    path = registry / "price_index.csv"
    path.write_text(path.read_text() + f"H100-SXM5-80GB,{D2},99.6\n")
    _blocked(book, D2, "suite_price_index",
             "raw.price_index: expect_column_values_to_be_between on market_index: "
             "1 row(s), e.g. [99.6]")
    [(file, line, field, reason, record)] = _quarantined(book, "raw.price_index")
    assert field == "market_index"
    assert json.loads(record) | {"market_index": None} == {
        "model": "H100-SXM5-80GB", "as_of": str(D2), "market_index": None}


def test_a_negative_offchain_reserve_blocks_the_day(book: Book, registry: Path):
    """Registry edit the loader accepts (any decimal): a redemption entered as a negative
    off-chain balance on D2."""
    path = registry / "offchain_reserves.csv"
    path.write_text(path.read_text() + f"{D2},-25000,T-bill redemption\n")
    _blocked(book, D2, "suite_offchain_reserves",
             "raw.offchain_reserves: expect_column_values_to_be_between on amount_usd: "
             "1 row(s), e.g. [-25000.0]")
    [(file, line, field, reason, record)] = _quarantined(book, "raw.offchain_reserves")
    assert field == "amount_usd" and str(D2) in record


# ---------------------------------------------------------------- landing and chain


def test_an_invoice_amount_in_usdc_base_units_blocks_the_day(book: Book):
    """Landing delivery the invoice loader accepts (any decimal amount): P-TW-FORM sends a
    second file on D2 whose amount is in USDC base units, 5011.20 USD as 5011200000."""
    rel = f"invoices/P-TW-FORM/{D2}/invoices_{D2}_b.csv"
    path = book.data / "landing" / rel
    path.write_text(
        "invoice_id,version,provider_id,deal_id,customer_id,issue_date,due_date,"
        "period_start,period_end,usage_hours,amount_usd,status,paid_date\n"
        f"INV-TW-FORM-0901,1,P-TW-FORM,D-TW-001,C-GENOMICS,{D2},2026-12-19,{D2},{D2},"
        "1728.00,5011200000,issued,\n")
    try:
        _blocked(book, D2, "suite_invoices",
                 "raw.invoices: expect_column_values_to_be_between on amount_usd: "
                 "1 row(s), e.g. [5011200000.0]")
        [(file, line, field, reason, record)] = _quarantined(book, "raw.invoices")
        assert (file, line, field) == (rel, 2, "amount_usd")
        assert json.loads(record)["invoice_id"] == "INV-TW-FORM-0901"
    finally:
        _forget_delivery(book, rel, "invoices")


def test_a_day_without_gpu_telemetry_blocks_the_day(book: Book):
    """Freshness: no node delivered telemetry for D3 (held back in the fixture), so the day
    has no GPU sample at all although the book has GPUs."""
    assert not (book.data / "landing" / "gpu_telemetry" / D3.isoformat()).exists()
    _blocked(book, D3, "suite_gpu_samples",
             "raw.gpu_samples: expect_column_sum_to_be_between on samples: 1 row(s), e.g. [0]")
    [(file, line, field, reason, record)] = _quarantined(book, "raw.gpu_samples")
    assert (file, line, field) == ("raw.gpu_samples", None, "samples")
    assert reason.startswith("expect_column_sum_to_be_between")


def test_a_robot_mode_unknown_to_the_contract_blocks_the_day(book: Book):
    """Landing delivery the robot loader accepts (it ignores `mode`): after a firmware
    update a robot reports mode DOCKED, which DATA_CONTRACTS.md does not define."""
    fleet = sorted((book.data / "landing" / "robot_telemetry" / D2.isoformat()).iterdir())[0]
    first = json.loads((next(fleet.glob("*.jsonl"))).read_text().splitlines()[0])
    first.update(mode="DOCKED", ts=first["ts"].replace(":00Z", ":30Z"), seq=first["seq"] + 1)
    rel = f"robot_telemetry/{D2}/{fleet.name}/firmware-4.2.jsonl"
    data = (json.dumps(first) + "\n").encode()
    (book.data / "landing" / rel).write_bytes(data)
    # the demo's fleets sign their deliveries (their TEST keys): so does this one
    (book.data / "landing" / f"{rel}.sig").write_bytes(
        sign_batch(data, fleet_key_name(fleet.name)))
    try:
        _blocked(book, D2, "suite_robot_records",
                 "raw.robot_records: expect_column_values_to_be_in_set on mode: 1 row(s), "
                 "e.g. ['DOCKED']")
        [(file, line, field, reason, record)] = _quarantined(book, "raw.robot_records")
        assert (file, line, field) == (rel, 1, "mode")
        assert json.loads(record)["robot_id"] == first["robot_id"]
    finally:
        _forget_delivery(book, rel, "robot_records")


def test_a_chain_event_of_an_unregistered_contract_blocks_the_day(book: Book):
    """Past the loader (which asks the RPC only for registered addresses, so it cannot
    store this): a Transfer log of a contract missing from addresses.csv, written straight
    into raw.chain_events with a D2 timestamp, as a manual backfill would."""
    stranger = "0x" + "5e" * 20
    tx = "0x" + "ab" * 32
    at = datetime.combine(D2, time(12), timezone.utc)
    with _warehouse(book) as con:
        (block,) = con.execute("select max(block_number) from raw.chain_events "
                               "where block_timestamp < ?", [at]).fetchone()
        con.execute(
            "insert into raw.chain_events (chain_id, block_number, block_hash, block_timestamp,"
            " tx_hash, log_index, address, event, topics, data, arg_from, arg_to, arg_value) "
            "values (31337, ?, ?, ?, ?, 0, ?, 'Transfer', '[]', '0x', ?, ?, 1000000)",
            [block, "0x" + "cd" * 32, at, tx, stranger, "0x" + "11" * 20, "0x" + "22" * 20])
    try:
        _blocked(book, D2, "suite_chain_events",
                 f"raw.chain_events: expect_column_values_to_be_in_set on address: 1 row(s), "
                 f"e.g. ['{stranger}']")
        [(file, line, field, reason, record)] = _quarantined(book, "raw.chain_events")
        assert field == "address"
        assert json.loads(record)["tx_hash"] == tx
    finally:
        with _warehouse(book) as con:
            con.execute("delete from raw.chain_events where tx_hash = ?", [tx])


# ---------------------------------------------------------------- marts: model regressions

# (check, model, text in the model, the regression, what the message must name)
REGRESSIONS = [
    # a fan-out is stopped inside the dbt build, by the mart's grain test, before its suite
    ("unique_fct_nav_daily_day", "fct_nav_daily",
     "from {{ ref('int_nav_computed') }}",
     "from {{ ref('int_nav_computed') }} join (select 1 as k union all select 2) fan on true",
     []),
    ("suite_fct_deal_position_daily", "fct_deal_position_daily",
     "cast(dpd as integer) as dpd", "cast(dpd as integer) - 1 as dpd",
     ["marts.fct_deal_position_daily: expect_column_values_to_be_between on dpd: ",
      "e.g. [-1"]),
    ("suite_fct_gpu_operation_daily", "fct_gpu_operation_daily",
     "exact_div_18(24 * least(", "exact_div_18(1440 * least(",
     ["marts.fct_gpu_operation_daily: expect_column_values_to_be_between on uptime_hours: "]),
    ("suite_fct_robot_operation_daily", "fct_robot_operation_daily",
     "cast(3600000000 as hugeint)) as decimal(38, 18)) as operating_hours",
     "cast(60000000 as hugeint)) as decimal(38, 18)) as operating_hours",
     ["marts.fct_robot_operation_daily: expect_column_values_to_be_between on "
      "operating_hours: "]),
    ("suite_fct_asset_valuation_daily", "fct_asset_valuation_daily",
     "cast(fair_value as decimal(38, 18)) as fair_value",
     "-cast(fair_value as decimal(38, 18)) as fair_value",
     ["marts.fct_asset_valuation_daily: expect_column_values_to_be_between on fair_value: ",
      "e.g. [-"]),
    ("suite_fct_staker_rewards_daily", "fct_staker_rewards_daily",
     "cast(account as varchar) as account", "cast(upper(account) as varchar) as account",
     ["marts.fct_staker_rewards_daily: expect_column_values_to_match_regex on account: ",
      "e.g. ['0X"]),
    ("suite_fct_rewards_roots_daily", "fct_rewards_roots_daily",
     "cast(root as varchar) as root", "cast(substr(root, 3) as varchar) as root",
     ["marts.fct_rewards_roots_daily: expect_column_values_to_match_regex on root: "
      "1 row(s)"]),
]


def _patched(dbt_copy: Path, model: str, old: str, new: str) -> Path:
    path = dbt_copy / "models" / "marts" / f"{model}.sql"
    text = path.read_text()
    assert text.count(old) == 1, f"{model}.sql no longer contains {old!r}"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("check, model, old, new, causes", REGRESSIONS,
                         ids=[r[0] for r in REGRESSIONS])
def test_a_model_regression_blocks_the_day(book: Book, dbt_copy: Path, check: str, model: str,
                                           old: str, new: str, causes: list[str]):
    """A wrong model (a fan-out join, an off-by-one, a unit or sign error, a lost prefix)
    writes bad mart rows for D2; the mart's suite names the expectation and the column,
    and nothing is posted."""
    path = _patched(dbt_copy, model, old, new)
    try:
        _blocked(book, D2, check, *causes,
                 env={**book.env, "AIDNAV_DBT_PROJECT_DIR": str(dbt_copy)})
    finally:
        path.write_text(path.read_text().replace(new, old))


def test_a_reward_one_wei_short_of_the_budget_blocks_the_day(book: Book, dbt_copy: Path):
    """A rounding regression in the rewards mart: the largest reward of the day loses one
    wei, so paid + dust falls one wei short of the budget (10000 GAIB + D1's dust)."""
    old = "cast(reward_wei as decimal(38, 0)) as reward_wei"
    new = ("cast(cast(reward_wei as decimal(38, 0)) - case when row_number() over ("
           "partition by day order by cast(reward_wei as decimal(38, 0)) desc, account) = 1 "
           "then 1 else 0 end as decimal(38, 0)) as reward_wei")
    path = _patched(dbt_copy, "fct_staker_rewards_daily", old, new)
    try:
        refused = _blocked(book, D2, "rewards_budget_balances", f"{D2}: rewards paid ",
                           "(difference -1)",
                           env={**book.env, "AIDNAV_DBT_PROJECT_DIR": str(dbt_copy)})
        with _warehouse(book) as con:
            (d1_dust,) = con.execute("select dust_wei from marts.fct_rewards_roots_daily "
                                     "where day = ?", [D1]).fetchone()
            budget, dust = con.execute("select budget_wei, dust_wei from "
                                       "marts.fct_rewards_roots_daily where day = ?",
                                       [D2]).fetchone()
    finally:
        path.write_text(path.read_text().replace(new, old))
    assert int(budget) == 10_000 * 10**18 + int(d1_dust)
    assert (f"{D2}: rewards paid {int(budget) - int(dust) - 1} + dust {int(dust)} != budget "
            f"{int(budget)} wei (difference -1)") in refused.stderr
    # the reward stays positive: only the budget reconciliation sees the lost wei
    assert "check suite_fct_staker_rewards_daily failed" not in refused.stderr
