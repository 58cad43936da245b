"""Only an error that can pass on a second try is retried: a refused connection or a
warehouse held by another run, not an exhausted memory, a bad cast, an overflow or an
invalid registry. Each error here is raised for real (DuckDB, the allocator, a socket,
the registry parser, the run lock) inside a real Dagster step."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from onchain.testing import free_port
from orchestration.run_outcome import read_outcome, retried_only_when_transient

NO_WAIT = dg.RetryPolicy(max_retries=2, delay=0)


def _attempts(work) -> tuple[int, dg.ExecuteInProcessResult]:
    tries: list[int] = []

    @dg.op(retry_policy=NO_WAIT)
    def step(context):
        tries.append(context.retry_number)
        with retried_only_when_transient(context, NO_WAIT):
            work()

    @dg.job
    def one_step():
        step()

    result = one_step.execute_in_process(raise_on_error=False)
    assert not result.success
    return len(tries), result


def _bad_cast() -> None:
    duckdb.connect().execute("select cast('1e40' as decimal(38,18))").fetchall()


def _overflow() -> None:
    duckdb.connect().execute(
        "select cast(1e19 as decimal(38,18)) * cast(1e19 as decimal(38,18))").fetchall()


def _out_of_memory() -> None:
    bytearray(1 << 62)  # 4 EiB: the allocator refuses at once


@pytest.mark.parametrize("work, kind", [
    (_bad_cast, "data"), (_overflow, "data"), (_out_of_memory, "out_of_memory"),
])
def test_an_error_that_repeats_is_not_retried(work, kind):
    attempts, result = _attempts(work)
    assert attempts == 1
    (step, cause), = read_outcome(result).failed_steps
    assert cause.kind == kind and not cause.transient


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A small demo book's data directory: registry and landing files, no chain."""
    from demo import generate_offchain

    data = tmp_path_factory.mktemp("book") / "data"
    generate_offchain(data, date(2026, 11, 20), days=2, progress=False, scale=0.05)
    return data


def test_an_invalid_registry_is_not_retried_and_names_its_line(book, tmp_path):
    from ingestion.registry import parse_registry

    registry = tmp_path / "registry"
    shutil.copytree(book / "registry", registry)
    params = registry / "params.csv"
    params.write_text(params.read_text().replace("inception_date,", "inception_date,31/12/"))
    attempts, result = _attempts(lambda: parse_registry(registry))
    assert attempts == 1
    (_step, cause), = read_outcome(result).failed_steps
    assert cause.kind == "registry" and cause.operator
    assert cause.line.startswith("registry: params.csv, line 2")


def test_a_refused_connection_is_retried_then_says_where(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    attempts, result = _attempts(lambda: requests.post(url, json={}, timeout=5))
    assert attempts == 3
    (_step, cause), = read_outcome(result).failed_steps
    assert cause.kind == "rpc_unreachable" and cause.transient and cause.exit_code == 2
    assert cause.line.startswith("RPC unreachable at http://127.0.0.1:")


def test_a_warehouse_held_by_another_run_is_retried(tmp_path):
    from ingestion.warehouse import acquire_run_lock, release_run_lock

    warehouse = tmp_path / "warehouse.duckdb"
    held = acquire_run_lock(warehouse, "another run", 1)
    try:
        attempts, result = _attempts(lambda: acquire_run_lock(warehouse, "this run", 0))
    finally:
        release_run_lock(held)
    assert attempts == 3
    (_step, cause), = read_outcome(result).failed_steps
    assert cause.kind == "lock" and "another run" in cause.line


def test_the_registry_asset_stops_at_once_on_an_invalid_registry(book, tmp_path, monkeypatch):
    """The real ingestion asset: an invalid registry used to be read three times, 15 s of
    back-off between, each failing the same way."""
    from orchestration.assets.ingestion import registry
    from orchestration.resources import WarehouseResource

    data = tmp_path / "data"
    shutil.copytree(book / "registry", data / "registry")
    deals = data / "registry" / "deals.csv"
    lines = deals.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("principal_usd")] = "lots"
    deals.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    monkeypatch.setenv("AIDNAV_WAREHOUSE_WAIT_S", "5")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [registry], partition_key=date(2026, 1, 25).isoformat(), instance=instance,
            resources={"warehouse": WarehouseResource(data_dir=str(data))},
            raise_on_error=False)
    assert not result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries == []
    (_step, cause), = read_outcome(result).failed_steps
    assert cause.line.startswith("registry: deals.csv, line 2, field 'principal_usd'")


def test_signer_errors_end_in_one_line_with_the_remedy(tmp_path):
    from eth_account import Account

    from onchain.signer import load_signer

    keystore = tmp_path / "publisher.json"
    keystore.write_text(json.dumps(Account.encrypt("0x" + "11" * 32, "right")))
    cases = {
        "no key": (lambda: load_signer(1, env={}),
                   "signer: no signing key for chain 1"),
        "bad password": (lambda: load_signer(1, env={"AIDNAV_KEYSTORE": str(keystore),
                                                     "AIDNAV_KEYSTORE_PASSWORD": "wrong"}),
                         f"signer: AIDNAV_KEYSTORE: cannot decrypt {keystore}"),
    }
    for name, (work, start) in cases.items():
        attempts, result = _attempts(work)
        assert attempts == 1, name
        (_step, cause), = read_outcome(result).failed_steps
        assert cause.kind == "signer" and cause.operator, name
        assert cause.line.startswith(start), (name, cause.line)
        assert "\n" not in cause.line and " — " in cause.line, name
    assert "AIDNAV_KEYSTORE_PASSWORD" in cause.line.split(" — ")[1]


def test_a_warning_check_is_a_warning_not_a_failed_check():
    @dg.asset
    def fleet() -> int:
        return 1

    @dg.asset_check(asset=fleet, blocking=False)
    def assets_offline() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="gpu-7 offline on 2026-11-20")

    @dg.asset_check(asset=fleet, blocking=True)
    def suite_fleet() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description="fleet: 2 rows with null id")

    result = dg.materialize([fleet, assets_offline, suite_fleet],
                            raise_on_error=False)
    outcome = read_outcome(result)
    assert [c.name for c in outcome.warnings] == ["assets_offline"]
    assert [c.name for c in outcome.failed_checks] == ["suite_fleet"]
    assert outcome.cause.line.startswith(
        "check suite_fleet failed on fleet: fleet: 2 rows with null id — ")


def test_a_chain_that_stops_before_publication_is_named_with_its_url(tmp_path):
    """The publisher's own retries give up on a node that does not answer: the step's
    failure names that node, whichever of the targets it was."""
    from web3 import Web3

    from publishing.publisher import publish_nav
    from onchain.signer import anvil_test_signer

    url = f"http://127.0.0.1:{free_port()}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5}))
    attempts, result = _attempts(lambda: publish_nav(
        w3, anvil_test_signer(0), "0x" + "11" * 20, date(2026, 11, 20),
        10**18, 10**24, 10**24, b"\x01" * 32, intent_path=tmp_path / "intents.jsonl"))
    (_step, cause), = read_outcome(result, rpc_url="http://127.0.0.1:1").failed_steps
    assert cause.kind == "rpc_unreachable"
    assert cause.line.startswith(f"RPC unreachable at {url} "), cause.line


def test_a_failed_dbt_build_is_told_by_dbt_s_own_error():
    """The record a run keeps of a failed `dbt build` (class name and message, as
    dagster-dbt words it): the line is dbt's error, not the advice to read the logs."""
    from aidnav.failures import ErrorLink, classify

    record = [
        ErrorLink.of("DagsterExecutionStepExecutionError",
                     'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred '
                     'while executing op "aidnav_dbt_models":'),
        ErrorLink.of("DagsterDbtCliRuntimeError",
                     "dagster_dbt.errors.DagsterDbtCliRuntimeError: The dbt CLI process with "
                     "command\n\n`dbt build`\n\nfailed with exit code `1`. Check the stdout in "
                     "the Dagster compute logs for the full information about the error.\n\n"
                     "Errors parsed from dbt logs:\n\nRuntime Error in model "
                     "fct_gpu_operation_daily (models/marts/fct_gpu_operation_daily.sql)\n"
                     "  Conversion Error: Overflow in multiplication of DECIMAL(38)\n"),
    ]
    cause = classify(record)
    assert cause.kind == "data" and not cause.transient
    assert cause.line.startswith(
        "data error: Runtime Error in model fct_gpu_operation_daily "
        "(models/marts/fct_gpu_operation_daily.sql) Conversion Error: Overflow in "
        "multiplication of DECIMAL(38) — not retried")


def test_a_model_the_parsed_manifest_lacks_says_to_parse_again():
    """A new model in the project, the manifest parsed before it: dagster-dbt fails on
    the model's key; the line says to parse the project again."""
    from aidnav.failures import ErrorLink, classify

    record = [ErrorLink.of("DagsterExecutionStepExecutionError",
                           'Error occurred while executing op "aidnav_dbt_models":'),
              ErrorLink.of("KeyError", "KeyError: 'model.aidnav.int_deal_stress_computed'")]
    cause = classify(record)
    assert cause.kind == "dbt_manifest" and cause.operator and not cause.transient
    assert cause.line == (
        "the dbt manifest has no 'model.aidnav.int_deal_stress_computed' (the project "
        "changed since it was parsed) — parse it again: cd dbt_project && ../.venv/bin/dbt "
        "parse --profiles-dir .")


def test_a_node_answering_503_is_retried_and_named():
    """A node behind a proxy that answers 503 while it restarts: a second try can pass."""
    import http.server
    import threading

    from web3 import Web3

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        attempts, result = _attempts(lambda: Web3(Web3.HTTPProvider(url)).eth.block_number)
    finally:
        server.shutdown()
    assert attempts == 3
    (_step, cause), = read_outcome(result).failed_steps
    assert cause.kind == "rpc_busy" and cause.transient
    assert cause.line.startswith(f"the node at {url}/ answered 503 Server Error"), cause.line
