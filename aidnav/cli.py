"""The `aidnav` command line: chain, demo, run, replay, export-bundle, ui."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from aidnav import __version__
from aidnav.config import REPO_ROOT, Settings, load_settings

# `aidnav ui`'s port unless --port (or `make ui PORT=...`) says otherwise: Dagster's own
UI_PORT = 3000
# where a run's dbt and Dagster log goes without -v, under the data directory
RUN_LOG = Path("logs") / "runs.log"


# the instance file the command line writes where DAGSTER_HOME has none
DAGSTER_INSTANCE_YAML = """\
# written by aidnav; storage stays under this folder (Dagster's defaults)
telemetry:
  enabled: false
nux:
  enabled: false
"""


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def _prepare_env(settings: Settings) -> None:
    """Environment shared by dbt and Dagster, derived from the one settings object."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIDNAV_DATA_DIR", str(settings.data_dir))
    os.environ.setdefault("AIDNAV_WAREHOUSE", str(settings.warehouse_path))
    os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir / "dagster"))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    # Dagster's defaults (storage under DAGSTER_HOME), without its "no dagster.yaml" warning,
    # its telemetry or its newsletter dialog; an operator's own instance file is kept
    instance_file = home / "dagster.yaml"
    if not instance_file.exists() or instance_file.stat().st_size == 0:  # none, or our empty one
        instance_file.write_text(DAGSTER_INSTANCE_YAML)
    if not sys.stdout.isatty():  # dbt's log without colour codes in a file or a pipe
        os.environ.setdefault("DBT_USE_COLORS", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


# ---------------------------------------------------------------- chain
def cmd_chain(args: argparse.Namespace) -> int:
    from onchain import anvil

    settings = load_settings()
    if args.action == "up":
        anvil.start(settings.chain_dir / "anvil-state.json", port=_rpc_port(settings),
                    log_file=settings.chain_dir / "anvil.log")
    elif args.action == "down":
        anvil.stop(settings.chain_dir)
    status = anvil.status(settings.rpc_url, pid_file=settings.chain_dir / "anvil.pid")
    if status.running:
        print(f"anvil running at {status.rpc_url}: chain {status.chain_id}, "
              f"block {status.block_number}, pid {status.pid or '?'}, "
              f"state {settings.chain_dir / 'anvil-state.json'}")
    else:
        print(f"anvil not running at {status.rpc_url}")
    _further_chains(args.action, settings)
    return 0


def _further_chains(action: str, settings: Settings) -> None:
    """The further local chains of AIDNAV_CHAIN_TARGETS, each with its own chain id."""
    from onchain import anvil
    from onchain.targets import targets_from_env

    targets = targets_from_env(os.environ, [])
    if action == "up":
        anvil.start_further_targets(settings.chain_dir, targets, settings.rpc_url)
    elif action == "down":
        anvil.stop_further_targets(settings.chain_dir, targets, settings.rpc_url)
    for url, chain_id, _port in anvil.further_local_targets(targets, settings.rpc_url):
        folder = anvil.target_state_dir(settings.chain_dir, chain_id)
        status = anvil.status(url, pid_file=folder / anvil.PID_FILE_NAME)
        print(f"anvil running at {url}: chain {status.chain_id}, block {status.block_number}, "
              f"pid {status.pid or '?'}, state {folder / anvil.STATE_FILE_NAME}"
              if status.running else f"anvil not running at {url} (chain {chain_id})")


def _rpc_port(settings: Settings) -> int:
    from urllib.parse import urlparse

    return urlparse(settings.rpc_url).port or 8545


# ---------------------------------------------------------------- run
def run_days(days: list[date], settings: Settings, progress: bool | None = None,
             verbose: bool = False) -> dict:
    """Run the `daily_nav` job over consecutive days through Dagster (runs show in the UI).

    One day is one partition run; several days are one single-run backfill over their
    range, exactly what the UI launches: models built once for the window, then each
    day published in order. With `progress` (default: when stderr is a terminal) a bar
    follows the run's steps as they finish. A failed run is told as its failed steps
    (each with its cause) and checks; "cause" in the result is the one to end with.
    Without `verbose` steps log only their warnings, one line each, no traceback.
    """
    _prepare_env(settings)
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.launch import execute_from_location
    from orchestration.run_outcome import read_outcome, warnings_console_logger

    job = defs.resolve_job_def("daily_nav")
    if not verbose:
        job = job.with_logger_defs({"console": warnings_console_logger})
        # a failed dbt step leaves dagster-dbt's stream generator to the garbage collector,
        # which prints "Exception ignored in ... GeneratorExit" with a traceback
        sys.unraisablehook = lambda unraisable: None
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if len(days) == 1:
        target: dict = {"partition_key": days[0].isoformat()}
    else:
        target = {"tags": {"dagster/asset_partition_range_start": days[0].isoformat(),
                           "dagster/asset_partition_range_end": days[-1].isoformat()},
                  "backfill_partitions": [day.isoformat() for day in days]}
    started = time.monotonic()
    posted_before = _transactions_recorded(settings)
    log_path = None if verbose else settings.data_dir / RUN_LOG
    with dg.DagsterInstance.get() as instance, contextlib.ExitStack() as stack:
        label = f"daily_nav {days[0]}" + (f" .. {days[-1]}" if len(days) > 1 else "")
        terminal = sys.stderr.isatty()
        enabled = terminal if progress is None else progress
        run_id = str(uuid.uuid4())  # known before the run starts, for the progress bar
        if log_path is not None:  # dbt's and Dagster's own output, kept out of the terminal
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(log_path.open("a", encoding="utf-8"))
            log.write(f"==> {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC {label} "
                      f"(run {run_id})\n")
            stack.enter_context(contextlib.redirect_stdout(log))
        plain = progress is None and not terminal  # a line per step in a file or a pipe
        with StepProgress(instance, run_id, len(job.graph.nodes), label, enabled or plain,
                          plain=plain):
            result = execute_from_location(job, instance, run_config=quiet, run_id=run_id,
                                           **target)
    report = read_outcome(result, rpc_url=settings.rpc_url, data_dir=settings.data_dir)
    outcome = {
        "days": days, "success": result.success, "run_id": result.run_id,
        "seconds": time.monotonic() - started,
        "cause": None if result.success else report.cause or _unexplained(result.run_id),
        "transactions": _transactions_recorded(settings) - posted_before,
        "checks_failed": len(report.failed_checks), "log": log_path,
    }
    if not result.success:
        print(f"daily_nav failed for {days[0]} .. {days[-1]} (run {result.run_id})",
              file=sys.stderr)
        for step, cause in report.failed_steps:
            print(f"  {step}: {cause.line}", file=sys.stderr)
        for check in report.failed_checks:
            print(f"  check {check.name} failed on {check.asset}: {check.description}",
                  file=sys.stderr)
    for check in report.warnings:
        print(f"warning: check {check.name} on {check.asset}: {check.description}",
              file=sys.stderr)
    return outcome


def _transactions_recorded(settings: Settings) -> int:
    """Transactions the warehouse records as sent (one per posted report and chain)."""
    import duckdb

    if not settings.warehouse_path.exists():
        return 0
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        if not _has_table(con, "publications"):
            return 0
        return con.execute("select count(*) from marts.publications "
                           "where status = 'posted' and tx_hash is not null").fetchone()[0]
    finally:
        con.close()


def print_closing(settings: Settings, days: list[date], outcome: dict) -> None:
    """The command's last words: what the run computed, posted and sent, and where the
    report, the exports, the log and the UI are."""
    import duckdb

    computed = posted = 0
    if settings.warehouse_path.exists():
        con = duckdb.connect(str(settings.warehouse_path))
        try:
            if _has_table(con, "fct_nav_daily"):
                computed = con.execute(
                    "select count(distinct day) from marts.fct_nav_daily "
                    "where day between ? and ?", [days[0], days[-1]]).fetchone()[0]
            if _has_table(con, "publications"):
                posted = con.execute(
                    "select count(distinct day) from marts.publications where kind = 'nav' "
                    "and status = 'posted' and day between ? and ?",
                    [days[0], days[-1]]).fetchone()[0]
        finally:
            con.close()
    sent = outcome["transactions"]
    print(f"{computed} of {len(days)} day(s) computed, {posted} on chain, {sent} "
          f"transaction(s) sent" + (" (already on chain)" if sent == 0 and posted else "")
          + f", {outcome['checks_failed']} check(s) failed")
    report = settings.reports_dir / "html" / f"{days[-1].isoformat()}.html"
    places = [f"report {report}" if report.exists() else None,
              f"exports {settings.exports_dir}" if settings.exports_dir.exists() else None,
              f"log {outcome['log']}" if outcome.get("log") else None,
              f"UI `aidnav ui` (http://127.0.0.1:{UI_PORT})"]
    print("see: " + ", ".join(p for p in places if p))


def _unexplained(run_id: str):
    from aidnav.failures import Cause

    return Cause("unknown", f"run {run_id} failed without a failed step or check — "
                 "run again with -v, or open the run in `aidnav ui`")


def end_with_error(cause) -> int:
    """The last line of a failed command: its cause and remedy; returns the exit code."""
    print(f"error: {cause.line}", file=sys.stderr, flush=True)
    return cause.exit_code


def check_before_run(settings: Settings, days: list[date]) -> None:
    """Refuse, before any run starts, days the book cannot have (before its inception)
    and a data directory that cannot take the run's writes."""
    from aidnav.failures import check_data_dir, check_not_before_inception
    from ingestion.registry import parse_registry

    check_not_before_inception(days, parse_registry(settings.registry_dir).params.inception_date)
    check_data_dir(settings.data_dir)


_STEP_WORDS = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}


class StepProgress:
    """A progress bar over the steps of the run this process is executing: a thread reads
    the run's step events from the instance while the run goes on."""

    def __init__(self, instance, run_id: str, total: int, label: str, enabled: bool = True,
                 interval_s: float = 0.5, plain: bool = False):
        self.instance, self.run_id, self.total, self.label = instance, run_id, total, label
        self.enabled, self.interval_s = enabled, interval_s
        self.plain = plain  # one line per finished step (not a terminal) instead of a bar
        self.steps_done: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self, bar) -> None:
        import dagster as dg

        records = self.instance.get_records_for_run(
            self.run_id, of_type={dg.DagsterEventType.STEP_SUCCESS,
                                  dg.DagsterEventType.STEP_FAILURE,
                                  dg.DagsterEventType.STEP_SKIPPED}).records
        for record in records[len(self.steps_done):]:
            step = record.event_log_entry.step_key or "?"
            self.steps_done.append(step)
            if self.plain:
                kind = getattr(record.event_log_entry.dagster_event_type, "value", None)
                print(f"{self.label}: step {len(self.steps_done)} of {self.total} {step} "
                      f"{_STEP_WORDS.get(kind, 'done')}", file=sys.stderr, flush=True)
                continue
            bar.set_postfix_str(step[:48], refresh=False)
            bar.update()

    def _run(self) -> None:
        from tqdm import tqdm

        bar = tqdm(total=self.total, desc=self.label, unit="step",
                   disable=not self.enabled or self.plain, mininterval=0.5)
        try:
            while not self._stop.wait(self.interval_s):
                self._poll(bar)
            self._poll(bar)
        except Exception:  # the bar only follows the run: the run itself reports its errors
            pass
        finally:
            bar.close()

    def __enter__(self) -> "StepProgress":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def slip(line: str) -> int:
    """An operator's slip: one line, `error: <what> — <what to do>`, and exit code 2."""
    print(f"error: {line}", file=sys.stderr, flush=True)
    return 2


def days_asked(args: argparse.Namespace) -> list[date] | str:
    """The days of --date or --start/--end (default: yesterday), or the slip's line."""
    if args.date and (args.start or args.end):
        return "--date is one day, --start/--end a range — give one or the other"
    start = args.start or args.date or args.end or _yesterday()
    end = args.end or args.date or start
    if end < start:
        return (f"the range ends ({end}) before it starts ({start}) — give --start on or "
                "before --end")
    last = _yesterday()
    if end > last:
        return (f"{end} has not ended yet (UTC) — the last day that can be run is {last}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    days = days_asked(args)
    if isinstance(days, str):
        return slip(days)
    if not settings.registry_dir.is_dir():
        return slip(f"no registry at {settings.registry_dir} — set AIDNAV_DATA_DIR to the data "
                    "directory, or write the demo book there with `aidnav demo --no-run`")
    check_before_run(settings, days)
    outcome = run_days(days, settings, verbose=args.verbose)
    print_summary(settings, days)
    print_closing(settings, days, outcome)
    return 0 if outcome["success"] else end_with_error(outcome["cause"])


def print_summary(settings: Settings, days: list[date]) -> None:
    """The run's days: posted figures beside their transactions (a posted day shows its
    posted report, whatever a re-run computed since), then restatements, set apart."""
    import duckdb

    from aidnav.publication import posted_report_figures

    if not settings.warehouse_path.exists():
        return
    # a plain connection: DuckDB refuses a read-only one beside a writer in this process
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        rows = con.execute(
            """
            select n.day, n.nav_usd, n.share_price, n.backing_ratio,
                   (select min(tx_hash) from marts.publications p
                     where p.day = n.day and p.kind = 'nav' and p.status = 'posted') as nav_tx,
                   (select min(tx_hash) from marts.publications p
                     where p.day = n.day and p.kind = 'rewards' and p.status = 'posted')
                     as rewards_tx
            from marts.fct_nav_daily n
            where n.day between ? and ? order by n.day
            """,
            [min(days), max(days)],
        ).fetchall()
        restated = con.execute(
            """
            select day, figure, coalesce(cast(posted_value as varchar), posted_text),
                   coalesce(cast(restated_value as varchar), restated_text), difference,
                   restated_report
            from marts.restatements r
            where day between ? and ? and restatement = (
                select max(restatement) from marts.restatements q
                where q.day = r.day and q.kind = r.kind)
            order by day, kind, figure
            """,
            [min(days), max(days)],
        ).fetchall() if _has_table(con, "restatements") else []
        chains = con.execute(
            "select chain_id, count(distinct day), min(day), max(day) from marts.publications "
            "where status = 'posted' and kind = 'nav' and day between ? and ? "
            "group by chain_id order by chain_id", [min(days), max(days)]).fetchall() \
            if _has_table(con, "publications") else []
        pending = con.execute(
            "select chain_id, string_agg(distinct cast(day as varchar), ', ' order by "
            "cast(day as varchar)) from marts.publications where status = 'pending' "
            "group by chain_id order by chain_id").fetchall() if _has_table(
                con, "publications") else []
    except duckdb.CatalogException as exc:  # no marts yet after a failed first run
        print(f"(no summary: {exc})")
        return
    finally:
        con.close()
    header = f"{'day':<10}  {'NAV (USD)':>18}  {'share price':>11}  {'backing':>8}  {'NAV tx':<14}  {'rewards tx':<14}"
    print(header)
    print("-" * len(header))
    for day, nav, price, backing, nav_tx, rew_tx in rows:
        if nav_tx:  # on chain: the posted report's figures
            nav, price, backing = posted_report_figures(settings.reports_dir, day)
        print(
            f"{day.isoformat():<10}  {nav:>18,.2f}  {price:>11.6f}  "
            f"{(f'{backing:.4f}' if backing is not None else '-'):>8}  "
            f"{_short(nav_tx):<14}  {_short(rew_tx):<14}"
        )
    if restated:
        print()
        print("Restated, not posted (the chain keeps the figures above):")
        head = (f"{'day':<10}  {'figure':<13}  {'posted':>28}  {'restated':>28}  "
                f"{'difference':>24}  report")
        print(head)
        print("-" * len(head))
        for day, figure, posted, new, diff, report in restated:
            print(f"{day.isoformat():<10}  {figure:<13}  {posted:>28}  {new:>28}  "
                  f"{'-' if diff is None else f'{diff:+}':>24}  {report}")
    if len(chains) > 1:  # every chain of AIDNAV_CHAIN_TARGETS, side by side
        for chain_id, count, first, last in chains:
            print(f"chain {chain_id}: {count} day(s) posted, {first} .. {last}")
    for chain_id, missed in pending:
        print(f"chain {chain_id} missed {missed}: pending, the next run posts them in order")


def _has_table(con, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = ?", [name]).fetchone()[0])


def _short(tx: str | None) -> str:
    return "-" if not tx else f"{tx[:8]}…{tx[-4:]}"


# ---------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from aidnav.demo_runner import run_demo

    if args.days < 1:
        return slip(f"--days {args.days}: the demo needs at least one day")
    if args.end_day and args.end_day > _yesterday():
        return slip(f"{args.end_day} has not ended yet (UTC) — the last day that can be run "
                    f"is {_yesterday()}")
    return run_demo(load_settings(), days=args.days, end_day=args.end_day or _yesterday(),
                    run_jobs=not args.no_run, scale=args.scale, verbose=args.verbose)


# ---------------------------------------------------------------- replay / bundles
def cmd_replay(args: argparse.Namespace) -> int:
    from aidnav.replay import replay

    if not Path(args.input_dir).is_dir():
        return slip(f"no replay bundle at {args.input_dir} — give the folder that "
                    "`aidnav export-bundle --out` wrote")
    if args.end < args.start:
        return slip(f"the window ends ({args.end}) before it starts ({args.start}) — give "
                    "--start on or before --end")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result = replay(Path(args.input_dir), args.start, args.end, Path(args.out))
    print(f"replayed {args.start} .. {args.end} in {result.seconds:.1f} s into {result.out_dir}")
    for name, path in result.files.items():
        print(f"  {path.name:<32} {result.rows.get(name, 0):>7} rows")
    return 0


def cmd_export_bundle(args: argparse.Namespace) -> int:
    import shutil

    from ingestion.chain.bundle import export_chain_events_jsonl
    from ingestion.warehouse import connect

    settings = load_settings()
    if not settings.warehouse_path.exists():
        return slip(f"no warehouse at {settings.warehouse_path} — run `aidnav run` or "
                    "`aidnav demo` first, or set AIDNAV_DATA_DIR to the data directory")
    if args.start and args.end and args.end < args.start:
        return slip(f"the range ends ({args.end}) before it starts ({args.start}) — give "
                    "--start on or before --end")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("registry", "landing"):
        src = settings.data_dir / sub
        if src.exists():
            shutil.copytree(src, out / sub, dirs_exist_ok=True)
    con = connect(settings.warehouse_path)
    try:
        count = export_chain_events_jsonl(con, out / "chain_events.jsonl", args.start, args.end)
    finally:
        con.close()
    print(f"bundle written to {out}: registry, landing and {count} chain events")
    return 0


def gaib(wei: int | str) -> str:
    """An amount of wei in GAIB (18 decimals), exact: every decimal shown."""
    from decimal import Decimal

    return f"{Decimal(int(wei)).scaleb(-18):,.18f}"


def cmd_rewards_proof(args: argparse.Namespace) -> int:
    import json

    from web3 import Web3

    from onchain.claims import ClaimsError, rewards_proof

    settings = load_settings()
    w3 = None if args.offline else Web3(
        Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 30})
    )
    try:
        claim = rewards_proof(settings.reports_dir, args.account, w3=w3,
                              registry_dir=settings.registry_dir)
    except ClaimsError as exc:
        print(f"aidnav rewards proof: {exc}", file=sys.stderr)
        return 2
    if args.json:
        keys = ("account", "epoch", "root", "cumulative", "proof", "distributor")
        print(json.dumps({k: claim[k] for k in keys}))
        return 0
    print(f"account      {claim['account']}")
    print(f"epoch        {claim['epoch']} ({claim['day']})")
    print(f"root         {claim['root']}")
    print(f"cumulative   {gaib(claim['cumulative'])} GAIB  ({claim['cumulative']} wei)")
    for key in ("claimed", "claimable"):
        if key in claim:
            print(f"{key:<12} {gaib(claim[key])} GAIB  ({claim[key]} wei)")
    print(f"distributor  {claim['distributor']}")
    print("proof")
    for node in claim["proof"]:
        print(f"  {node}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from aidnav.bench import run_bench

    run_bench(args.gpus, args.robots, args.days, args.json,
              sample_interval_s=args.sample_interval_s)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    settings = load_settings()
    _prepare_env(settings)
    dagster = REPO_ROOT / ".venv" / "bin" / "dagster"
    exe = str(dagster) if dagster.exists() else "dagster"
    os.chdir(REPO_ROOT)
    print(f"the Dagster UI: http://127.0.0.1:{args.port}", flush=True)
    os.execvp(exe, [exe, "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                    "-p", str(args.port)])
    return 0


class OneLineParser(argparse.ArgumentParser):
    """A slip on the command line is one line and exit code 2, not a usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} — see `{self.prog} --help`\n")


DAY = "YYYY-MM-DD"
VERBOSE_HELP = ("print dbt's and Dagster's log and a failure's traceback (without it "
                f"they go to <data dir>/{RUN_LOG})")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="aidnav", description=__doc__)
    parser.add_argument("--version", action="version", version=f"aidnav {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chain = sub.add_parser("chain", help="the local anvil chain at AIDNAV_RPC_URL")
    chain.add_argument("action", choices=["up", "down", "status"],
                       help="start it (state kept in <data dir>/chain), stop it, or say "
                            "whether it runs")
    chain.set_defaults(func=cmd_chain)

    demo = sub.add_parser("demo", help="generate the demo book, drive the chain, run 30 days")
    demo.add_argument("--days", type=int, default=30,
                      help="number of days, ending on --end-day (default: 30)")
    demo.add_argument("--end-day", type=_parse_day, default=None, metavar=DAY,
                      help="last day of the demo, UTC (default: yesterday)")
    demo.add_argument("--no-run", action="store_true",
                      help="only generate data and drive the chain")
    demo.add_argument("--scale", type=float, default=1.0,
                      help="size of the book relative to the default (~1,200 GPUs, 100 robots)")
    demo.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="run the daily_nav job for a day (or a range of days)")
    run.add_argument("--date", type=_parse_day, metavar=DAY,
                     help="the one day to run, UTC (default: yesterday)")
    run.add_argument("--start", type=_parse_day, metavar=DAY,
                     help="first day of a range, run as one backfill run")
    run.add_argument("--end", type=_parse_day, metavar=DAY,
                     help="last day of the range, included (default: --start)")
    run.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("replay", help="recompute a window from a replay bundle (no RPC)")
    rep.add_argument("input_dir", help="a bundle folder written by `aidnav export-bundle`")
    rep.add_argument("--start", type=_parse_day, required=True, metavar=DAY,
                     help="first day of the window")
    rep.add_argument("--end", type=_parse_day, required=True, metavar=DAY,
                     help="last day of the window, included")
    rep.add_argument("--out", required=True, metavar="DIR",
                     help="folder for the recomputed marts (created)")
    rep.set_defaults(func=cmd_replay)

    exp = sub.add_parser("export-bundle", help="write a replay bundle from the warehouse")
    exp.add_argument("--start", type=_parse_day, metavar=DAY,
                     help="first day of chain events (default: the first recorded)")
    exp.add_argument("--end", type=_parse_day, metavar=DAY,
                     help="last day of chain events, included (default: the last recorded)")
    exp.add_argument("--out", required=True, metavar="DIR", help="bundle folder (created)")
    exp.set_defaults(func=cmd_export_bundle)

    rewards = sub.add_parser("rewards", help="staker rewards")
    rewards_sub = rewards.add_subparsers(dest="rewards_command", required=True,
                                         metavar="COMMAND")
    proof = rewards_sub.add_parser(
        "proof", help="an account's cumulative GAIB and Merkle proof under the accepted root"
    )
    proof.add_argument("account", help="the staker's address, 0x followed by 40 hex digits")
    proof.add_argument("--json", action="store_true", help="one JSON object to pass to claim()")
    proof.add_argument("--offline", action="store_true",
                       help="use the newest rewards report without asking the chain")
    proof.set_defaults(func=cmd_rewards_proof)

    bench = sub.add_parser("bench", help="time ingest, dbt, checks and publish on a synthetic fleet")
    bench.add_argument("--gpus", type=int, default=1000, help="GPUs in the fleet (default: 1000)")
    bench.add_argument("--robots", type=int, default=100,
                       help="robots in the fleet (default: 100)")
    bench.add_argument("--days", type=int, default=1, help="days to run (default: 1)")
    bench.add_argument("--sample-interval-s", type=int, default=60,
                       help="seconds between a GPU's samples (DATA_CONTRACTS: 60)")
    bench.add_argument("--json", action="store_true",
                       help="print one JSON object as the last line")
    bench.set_defaults(func=cmd_bench)

    sub.add_parser(
        "agent",
        help="node agents: `aidnav agent nvml --node-id ID --key-file FILE --interval 60 "
        "--out DIR` samples every GPU through NVML into signed batches",
    )

    ui = sub.add_parser("ui", help="the Dagster UI (dagster dev) on the configured data directory")
    ui.add_argument("--port", type=int, default=UI_PORT,
                    help=f"the UI's port on 127.0.0.1 (default: {UI_PORT})")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:2] == ["agent", "nvml"]:  # the node agent parses its own options
        from ingestion.nvml.agent import main as agent_main

        return agent_main(words[2:])
    args = build_parser().parse_args(words)
    from onchain.anvil import AnvilError

    try:
        return args.func(args)
    except AnvilError as e:  # the local chain: missing, taken by another node, won't stop
        print(f"aidnav: {e}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line naming the cause and the remedy, -v: the traceback
        if getattr(args, "verbose", False):
            raise
        from aidnav.failures import classify_exception

        settings = load_settings()
        return end_with_error(classify_exception(exc, rpc_url=settings.rpc_url,
                                                 data_dir=settings.data_dir))


if __name__ == "__main__":
    sys.exit(main())
