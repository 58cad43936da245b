"""What Dagster's event bookkeeping costs for a backfill of the `daily_nav` job.

    .venv/bin/python -m demo.bench_events --days 30 --storage sqlite --out events.json

writes the demo book (`aidnav demo --no-run --days N --scale 0.05`) in a folder of its own,
on its own anvil port, runs the job over the N days as one single-run backfill
(`aidnav run --start --end`) with Dagster's storage on SQLite (Dagster's default files under
DAGSTER_HOME) or on PostgreSQL (deploy/dagster.yaml, against a throw-away server started
here from Debian's `postgresql` package, fsync on as in production), then reads the run's
event log back:

* the events by type, and those carrying a day (materializations, check evaluations) by
  day; the materializations and check evaluations by the kind of asset they are about (dbt
  staging views, intermediate models, marts; the non-dbt assets), from dbt's manifest;
* the rows and bytes of the storage: the SQLite files under DAGSTER_HOME, or each table's
  `pg_total_relation_size`;
* the wall time of `aidnav run`, and the time to store the same events again, one by one
  with `DagsterInstance.store_event`, into an empty storage of the same kind: what the
  storage alone costs, apart from the work the run does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from aidnav.config import REPO_ROOT
from demo.postgres_server import DB_NAME, postgres_dsn, postgres_server, postgres_url
from onchain.testing import free_port

JOB = "daily_nav"
# a day that has ended, fixed so that runs compare (the book ends on it)
END_DAY = date(2026, 11, 20)
SCALE = 0.05
AIDNAV = str(Path(sys.executable).parent / "aidnav")
MANIFEST = REPO_ROOT / "dbt_project" / "target" / "manifest.json"
PG_DB = DB_NAME
PG_REPLAY_DB = "aidnav_replay"
STORAGES = ("sqlite", "postgres")


# ---------------------------------------------------------------- PostgreSQL
def pg_storage(port: int, db: str) -> dict:
    """Rows and bytes (`pg_total_relation_size`: table, indexes, TOAST) of each table."""
    import psycopg2

    with psycopg2.connect(postgres_dsn(port, db)) as con, \
            con.cursor() as cur:
        cur.execute("select relname from pg_stat_user_tables order by relname")
        tables: dict[str, dict] = {}
        for (name,) in cur.fetchall():
            cur.execute(f'select count(*), pg_total_relation_size(%s) from "{name}"', [name])
            rows, size = cur.fetchone()
            tables[name] = {"rows": rows, "bytes": size}
        cur.execute("select pg_database_size(current_database())")
        (database,) = cur.fetchone()
    return {"tables": tables, "bytes": sum(t["bytes"] for t in tables.values()),
            "database_bytes": database,
            "event_log_rows": tables.get("event_logs", {}).get("rows", 0)}


# ---------------------------------------------------------------- SQLite
def sqlite_storage(home: Path) -> dict:
    """Bytes of Dagster's SQLite files under `home` (with their -wal/-shm), and the rows of
    the event log: one shard a run (history/runs/<run>.db), plus the asset index shard."""
    import sqlite3

    files = {str(p.relative_to(home)): p.stat().st_size
             for p in sorted(home.rglob("*")) if p.is_file() and ".db" in p.name}
    rows: dict[str, int] = {}
    for name in files:
        if not name.endswith(".db"):
            continue
        con = sqlite3.connect(f"file:{home / name}?mode=ro", uri=True)
        try:
            if con.execute("select 1 from sqlite_master where name = 'event_logs'").fetchone():
                rows[name] = con.execute("select count(*) from event_logs").fetchone()[0]
        finally:
            con.close()
    # the steps' captured stdout/stderr, kept beside the databases
    logs = sum(p.stat().st_size for p in (home / "storage").rglob("*") if p.is_file())
    return {"files": files, "bytes": sum(files.values()), "event_log_rows_by_file": rows,
            "event_log_rows": sum(rows.values()), "compute_log_bytes": logs}


# ---------------------------------------------------------------- the run
def _run(cmd: list[str], env: dict, timeout: float) -> float:
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:3])} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def dbt_kinds() -> dict[str, str]:
    """Each dbt model's kind by name: `view` (the staging views), `intermediate`, `mart`."""
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    kinds = {}
    for node in nodes:
        if node["resource_type"] != "model":
            continue
        if node["config"]["materialized"] == "view":
            kinds[node["name"]] = "view"
        else:
            kinds[node["name"]] = "mart" if "marts" in node["fqn"] else "intermediate"
    return kinds


def read_events(dagster_home: Path, days: list[str]) -> tuple[str, list, dict]:
    """The job's one run, its event log entries, and the counts."""
    from orchestration.run_steps import job_run_log

    run_id, status, entries = job_run_log(dagster_home, JOB)
    kinds = dbt_kinds()
    by_type: Counter = Counter()
    by_day: Counter = Counter()
    by_kind: Counter = Counter()
    assets_by_kind: dict[str, set] = {}
    for entry in entries:
        event = entry.dagster_event
        kind_of_event = event.event_type_value if event else "LOG_MESSAGE"
        by_type[kind_of_event] += 1
        if event is None:
            continue
        check = event.event_type_value == "ASSET_CHECK_EVALUATION"
        partition = event.asset_check_evaluation_data.partition if check else event.partition
        if partition is not None:
            by_day[partition] += 1
        planned = event.event_type_value == "ASSET_MATERIALIZATION_PLANNED"
        if event.is_step_materialization or planned or check:
            key = event.asset_check_evaluation_data.asset_key if check else event.asset_key
            kind = kinds.get(key.path[-1], "other (non-dbt)")
            label = ("check" if check else "planned" if planned else "materialization")
            by_kind[f"{label}: {kind}"] += 1
            assets_by_kind.setdefault(kind, set()).add(key.to_user_string())
    total = len(entries)
    counts = {
        "run_id": run_id, "status": status, "events": total,
        "by_type": dict(by_type.most_common()),
        "by_day": {day: by_day.get(day, 0) for day in days},
        "outside_days": total - sum(by_day.get(day, 0) for day in days),
        "events_per_day": total / len(days),
        "materializations_and_checks_by_kind": dict(sorted(by_kind.items())),
        "assets_by_kind": {k: len(v) for k, v in sorted(assets_by_kind.items())},
    }
    return run_id, entries, counts


def measure(days: int, storage: str, root: Path, end_day: date = END_DAY) -> dict:
    from orchestration.run_steps import store_events_again

    home, data = root / "dagster", root / "data"
    home.mkdir(parents=True)
    first = end_day - timedelta(days=days - 1)
    env = {**os.environ, "AIDNAV_DATA_DIR": str(data), "DAGSTER_HOME": str(home),
           "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}",
           "AIDNAV_WAREHOUSE": str(data / "warehouse.duckdb")}
    env.pop("AIDNAV_DASK_SCHEDULER", None)
    with contextlib_for(storage, root) as port:
        if port is not None:
            shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
            env["AIDNAV_DAGSTER_POSTGRES_URL"] = postgres_url(port, PG_DB)
        try:
            prepare_s = _run([AIDNAV, "demo", "--no-run", "--days", str(days), "--end-day",
                              end_day.isoformat(), "--scale", str(SCALE)], env, 1800)
            run_s = _run([AIDNAV, "run", "--start", first.isoformat(), "--end",
                          end_day.isoformat()], env, 3600)
        finally:
            subprocess.run([AIDNAV, "chain", "down"], env=env, capture_output=True,
                           timeout=120)
        day_keys = [(first + timedelta(days=i)).isoformat() for i in range(days)]
        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "AIDNAV_DAGSTER_POSTGRES_URL")
                           if k in env})
        _, entries, counts = read_events(home, day_keys)
        size = sqlite_storage(home) if port is None else pg_storage(port, PG_DB)
        # the same events again, into an empty storage of the same kind
        replay_home = root / "replay"
        replay_home.mkdir()
        if port is not None:
            shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", replay_home / "dagster.yaml")
            os.environ["AIDNAV_DAGSTER_POSTGRES_URL"] = postgres_url(port, PG_REPLAY_DB)
        else:
            (replay_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        store_s, store_by_type = store_events_again(replay_home, entries)
    events = counts["events"]
    return {
        "storage": storage, "days": days, "first_day": first.isoformat(),
        "end_day": end_day.isoformat(), "scale": SCALE, **counts,
        "storage_size": size,
        "seconds": {"prepare_book": round(prepare_s, 2), "run": round(run_s, 2),
                    "store_events_again": round(store_s, 3),
                    "store_events_again_by_type": store_by_type},
        "store_ms_per_1000_events": round(store_s / events * 1e6, 1) if events else None,
        "load_average": os.getloadavg(),
    }


@contextmanager
def contextlib_for(storage: str, root: Path) -> Iterator[int | None]:
    if storage == "postgres":
        with postgres_server(databases=(PG_DB, PG_REPLAY_DB), fsync=True) as server:
            yield server.port
    else:
        yield None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.bench_events", description=(
        "Dagster's event bookkeeping for a single-run backfill of daily_nav over N days"))
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--storage", choices=STORAGES, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON file written")
    parser.add_argument("--end-day", type=date.fromisoformat, default=END_DAY)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days: at least one day")
    root = Path(tempfile.mkdtemp(prefix="aidnav-bench-events-", dir="/tmp"))
    try:
        result = measure(args.days, args.storage, root, args.end_day)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.storage} {args.days} days: {result['events']} events "
          f"({result['events_per_day']:.0f}/day), {result['storage_size']['bytes']:,} bytes, "
          f"run {result['seconds']['run']} s, store again "
          f"{result['seconds']['store_events_again']} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
