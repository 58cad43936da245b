"""The daily job with Dagster's storage on a real PostgreSQL server (deploy/dagster.yaml):
its runs, materializations and partitions are recorded there, none in SQLite files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg2
import pytest

from aidnav.config import REPO_ROOT
from onchain.testing import free_port
from demo.postgres_server import postgres_server

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("postgres")]

END_DAY = date(2026, 11, 20)
AIDNAV = str(Path(sys.executable).parent / "aidnav")


@pytest.fixture(scope="module")
def demo_on_postgres(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pg")
    home = root / "dagster"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with postgres_server() as server:
        env = {**os.environ, "AIDNAV_DATA_DIR": str(root / "data"),
               "AIDNAV_RPC_URL": f"http://127.0.0.1:{free_port()}",
               "DAGSTER_HOME": str(home), "AIDNAV_DAGSTER_POSTGRES_URL": server.url,
               "AIDNAV_WAREHOUSE": str(root / "data" / "warehouse.duckdb")}
        args = ["demo", "--days", "2", "--end-day", END_DAY.isoformat(), "--scale", "0.05"]
        try:
            done = subprocess.run([AIDNAV, *args], env=env, capture_output=True, text=True,
                                  timeout=900)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            with psycopg2.connect(server.dsn) as con, con.cursor() as cur:
                cur.execute("select pipeline_name, status from runs")
                runs = cur.fetchall()
                cur.execute("select distinct partition from event_logs where asset_key like %s "
                            "and dagster_event_type = 'ASSET_MATERIALIZATION'",
                            ['%fct_nav_daily%'])
                partitions = sorted(p for (p,) in cur.fetchall())
            yield home, runs, partitions
        finally:
            subprocess.run([AIDNAV, "chain", "down"], env=env, capture_output=True, timeout=120)


def test_the_daily_job_records_its_run_and_partitions_in_postgres(demo_on_postgres):
    home, runs, partitions = demo_on_postgres
    assert ("daily_nav", "SUCCESS") in runs
    assert all(status == "SUCCESS" for _, status in runs)
    assert partitions == ["2026-11-19", "2026-11-20"]
    # nothing went to Dagster's default SQLite storage
    assert not list(home.rglob("*.db"))
