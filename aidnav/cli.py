"""The `aidnav` command line: chain, demo, run, replay, export-bundle, ui."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from aidnav import __version__
from aidnav.config import REPO_ROOT, UI_PORT, Settings, load_settings, prepare_environment
from aidnav.console import end_with_error, gaib, print_closing, print_summary, slip


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


# ---------------------------------------------------------------- chain
def cmd_chain(args: argparse.Namespace) -> int:
    from onchain import anvil

    settings = load_settings()
    if args.action == "up":
        anvil.start(settings.chain_dir / "anvil-state.json", port=settings.rpc_port,
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
    from onchain.targets import parse_targets

    targets = parse_targets(settings.chain_targets) if settings.chain_targets else []
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


# ---------------------------------------------------------------- run
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
    from orchestration.runner import check_before_run, run_days

    check_before_run(settings, days)
    outcome = run_days(days, settings, verbose=args.verbose)
    print_summary(settings, days)
    print_closing(settings, days, outcome)
    return 0 if outcome["success"] else end_with_error(outcome["cause"])


# ---------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from orchestration.runner import run_demo

    if args.days < 1:
        return slip(f"--days {args.days}: the demo needs at least one day")
    if args.end_day and args.end_day > _yesterday():
        return slip(f"{args.end_day} has not ended yet (UTC) — the last day that can be run "
                    f"is {_yesterday()}")
    return run_demo(load_settings(), days=args.days, end_day=args.end_day or _yesterday(),
                    run_jobs=not args.no_run, scale=args.scale, verbose=args.verbose)


# ---------------------------------------------------------------- replay / bundles
def cmd_replay(args: argparse.Namespace) -> int:
    from modelling.replay import replay

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
    from demo.bench import run_bench

    run_bench(args.gpus, args.robots, args.days, args.json, work_dir=args.work_dir,
              sample_interval_s=args.sample_interval_s, compression=args.compress,
              dask_workers=args.dask_workers)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    settings = load_settings()
    prepare_environment(settings)
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
                "they go to <data dir>/logs/runs.log)")


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
    bench.add_argument("--work-dir", type=Path, default=None,
                       help="a new or empty folder that keeps the fleet, landing zone and "
                            "warehouse (default: a temporary folder, removed afterwards)")
    from ingestion.compression import CODECS

    bench.add_argument("--compress", choices=list(CODECS), default=None,
                       help="codec of the GPU batches as delivered (default: the node "
                            "agent's, zstd)")
    bench.add_argument("--dask-workers", default=None, metavar="N[,M...]",
                       help="start a real Dask cluster of N single-threaded workers for the "
                            "run and time the telemetry stage on it (and on M workers ...)")
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
