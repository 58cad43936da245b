"""A throw-away PostgreSQL server, started from Debian's `postgresql` package: the test
suite's (Dagster's storage on PostgreSQL) and the event-bookkeeping benchmark's.

`initdb` makes a throw-away cluster in a temporary folder, `pg_ctl` starts it on a free
loopback port (unix socket in the same folder), and it is stopped and removed afterwards.
PostgreSQL refuses to run as root: as root the cluster belongs to, and the server runs
as, the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from onchain.testing import free_port

DB_USER = "aidnav"
DB_NAME = "aidnav_dagster"


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed (`.ci/run` installs it)."""


@dataclass(frozen=True)
class PostgresServer:
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return postgres_url(self.port)

    @property
    def dsn(self) -> str:
        return postgres_dsn(self.port)


def postgres_url(port: int, db: str = DB_NAME) -> str:
    """As deploy/dagster.yaml expects it: the psycopg2 driver named."""
    return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{port}/{db}"


def postgres_dsn(port: int, db: str = DB_NAME) -> str:
    return f"postgresql://{DB_USER}@127.0.0.1:{port}/{db}"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise PostgresMissing("no /usr/lib/postgresql/*/bin/postgres: "
                              "apt-get install postgresql (as .ci/run does)")
    return Path(found[-1]).parent


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_server(databases: tuple[str, ...] = (DB_NAME,),
                    fsync: bool = False) -> Iterator[PostgresServer]:
    """A server on a free loopback port with `databases` created, stopped and removed
    afterwards; without `fsync` (the tests), faster and as safe for a throw-away cluster,
    with it (the benchmark), as in production."""
    bin_dir = _bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="aidnav-pg-", dir="/tmp"))
    data = folder / "data"
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        folder.chmod(0o755)
        subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", DB_USER,
                                  "--auth=trust", "-E", "UTF8", "--no-instructions"]),
                       check=True, capture_output=True, timeout=120)
        port = free_port()
        subprocess.run(_as_owner([
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
            "-t", "60", "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
            + ("" if fsync else " -c fsync=off"), "start"]),
            check=True, capture_output=True, timeout=120)
        for db in databases:
            subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                            "-U", DB_USER, db], check=True, capture_output=True, timeout=60)
        yield PostgresServer(port, folder)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                      "-w", "stop"]), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
