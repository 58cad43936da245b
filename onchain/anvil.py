"""Manage the local anvil chain: start (idempotent), stop (state written), status.

The real binary from the npm package is run directly (the node wrapper forwards SIGTERM
but a SIGKILL would orphan the binary). Its state is dumped to `--state FILE` every
second and on a clean exit, so a stop/start keeps every block and contract.
The pid is written to `anvil.pid` beside the state file; `stop(state_dir)` reads it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aidnav.config import REPO_ROOT

ANVIL_RELATIVE_PATH = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
PID_FILE_NAME = "anvil.pid"
LOCAL_CHAIN_ID = 31337


class AnvilError(RuntimeError):
    """anvil is missing, failed to start, or could not be stopped."""


@dataclass(frozen=True)
class AnvilStatus:
    rpc_url: str
    running: bool
    chain_id: int | None = None
    block_number: int | None = None
    pid: int | None = None


def anvil_binary() -> Path:
    """Path of the anvil binary; a clear error when it is not installed."""
    path = REPO_ROOT / ANVIL_RELATIVE_PATH
    if not path.is_file():
        raise AnvilError(
            f"anvil binary not found at {path}: run `make install` "
            "(npm install @foundry-rs/anvil@1.7.1)"
        )
    return path


def rpc_url_for(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def _rpc(rpc_url: str, method: str, timeout: float = 1.0) -> object:
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    request = urllib.request.Request(
        rpc_url, data=payload, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    if "error" in body:
        raise AnvilError(f"{rpc_url} {method}: {body['error']}")
    return body["result"]


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_anvil_process(pid: int, state_dir: Path | None = None) -> bool:
    """True when `pid` is alive and is an anvil binary (not a recycled pid), and, when
    `state_dir` is given, one whose --state file lies in that folder."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    # field 3 of /proc/<pid>/stat is the state; Z is a zombie (exited, not yet reaped)
    state = stat.rsplit(")", 1)[-1].split()[0]
    argv = cmdline.split(b"\0")
    if state == "Z" or b"anvil" not in argv[0]:
        return False
    if state_dir is None:
        return True
    folder = str(Path(state_dir).resolve()).encode()
    return any(arg.startswith(folder + b"/") for arg in argv)


def status(rpc_url: str, pid_file: Path | None = None) -> AnvilStatus:
    """Whether a node answers at `rpc_url`, its chain id and block number.

    The pid is known only when `pid_file` (written by `start`) is given.
    """
    pid = _read_pid(pid_file) if pid_file is not None else None
    if pid is not None and not _is_anvil_process(pid):
        pid = None
    try:
        chain_id = int(str(_rpc(rpc_url, "eth_chainId")), 16)
        block_number = int(str(_rpc(rpc_url, "eth_blockNumber")), 16)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, AnvilError):
        return AnvilStatus(rpc_url=rpc_url, running=False, pid=pid)
    return AnvilStatus(
        rpc_url=rpc_url, running=True, chain_id=chain_id, block_number=block_number, pid=pid
    )


def start(
    state_file: Path,
    host: str = "127.0.0.1",
    port: int = 8545,
    timestamp: int | None = None,
    log_file: Path | None = None,
    startup_timeout_s: float = 15.0,
    chain_id: int = LOCAL_CHAIN_ID,
) -> AnvilStatus:
    """Start anvil with its state in `state_file`, unless a node already answers there.

    `timestamp` sets the genesis block time (used only for a fresh state).
    """
    state_file = Path(state_file).resolve()
    pid_file = state_file.parent / PID_FILE_NAME
    rpc_url = rpc_url_for(host, port)
    current = status(rpc_url, pid_file)
    if current.running:
        if current.pid is None or not _is_anvil_process(current.pid, state_file.parent):
            # someone else's node: driving it would mix two books on one chain
            raise AnvilError(
                f"a node already answers at {rpc_url} (chain {current.chain_id}, block "
                f"{current.block_number}) but it is not the anvil of {state_file.parent} "
                f"(no {PID_FILE_NAME} there names it): stop it, or give this data "
                "directory another port with AIDNAV_RPC_URL")
        return current

    binary = anvil_binary()
    state_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(binary),
        "--host", host,
        "--port", str(port),
        "--state", str(state_file),
        "--state-interval", "1",
        "--accounts", "10",
        "--chain-id", str(chain_id),
    ]  # fmt: skip
    if timestamp is not None:
        command += ["--timestamp", str(int(timestamp))]

    log_handle = open(log_file, "ab") if log_file is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        if log_file is not None:
            log_handle.close()  # type: ignore[union-attr]
    pid_file.write_text(f"{process.pid}\n")

    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        exit_code = process.poll()
        if exit_code is not None:
            pid_file.unlink(missing_ok=True)
            where = f"; see {log_file}" if log_file is not None else ""
            raise AnvilError(
                f"anvil exited with code {exit_code} while starting on {rpc_url} "
                f"(state {state_file}){where}"
            )
        current = status(rpc_url, pid_file)
        if current.running:
            return current
        time.sleep(0.05)
    _terminate(process.pid, timeout_s=5.0)
    pid_file.unlink(missing_ok=True)
    raise AnvilError(f"anvil did not answer eth_chainId on {rpc_url} within {startup_timeout_s}s")


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            # reap it when it is our own child; otherwise this raises ChildProcessError
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return True
        except ChildProcessError:
            pass
        if not _is_anvil_process(pid):
            return True
        time.sleep(0.05)
    return False


def _terminate(pid: int, timeout_s: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_gone(pid, timeout_s):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not _wait_gone(pid, 5.0):
        raise AnvilError(f"anvil pid {pid} survived SIGKILL")


def stop(state_dir: Path, timeout_s: float = 10.0) -> bool:
    """Stop the anvil started with its state in `state_dir`; False when none was running.

    SIGTERM lets anvil write its state; SIGKILL only when it does not exit in time.
    """
    pid_file = Path(state_dir) / PID_FILE_NAME
    pid = _read_pid(pid_file)
    if pid is None:
        return False
    stopped = False
    if _is_anvil_process(pid, Path(state_dir)):
        _terminate(pid, timeout_s)
        stopped = True
    pid_file.unlink(missing_ok=True)
    return stopped


# ---------------------------------------------------------------- further local chains
STATE_FILE_NAME = "anvil-state.json"
LOG_FILE_NAME = "anvil.log"


def target_state_dir(chain_dir: Path, chain_id: int) -> Path:
    """Where the anvil of a further local publication target (`AIDNAV_CHAIN_TARGETS`)
    keeps its state, pid and log; the main chain's stay in `chain_dir` itself."""
    return Path(chain_dir) / f"chain-{chain_id}"


def further_local_targets(targets, main_rpc_url: str) -> list[tuple[str, int, int]]:
    """(rpc_url, chain_id, port) of each target on this machine other than the main
    chain (`AIDNAV_RPC_URL`): the ones `aidnav chain up` and the demo start."""
    from urllib.parse import urlparse

    main = urlparse(main_rpc_url)
    found = []
    for target in targets:
        url = urlparse(target.rpc_url)
        if url.hostname not in ("127.0.0.1", "localhost"):
            continue
        if (url.hostname, url.port or 8545) == (main.hostname, main.port or 8545):
            continue
        found.append((target.rpc_url, int(target.chain_id), url.port or 8545))
    return found


def start_further_targets(chain_dir: Path, targets, main_rpc_url: str,
                          timestamp: int | None = None) -> list[AnvilStatus]:
    """Start (idempotently) an anvil with its own chain id for every further local target."""
    started = []
    for _url, chain_id, port in further_local_targets(targets, main_rpc_url):
        folder = target_state_dir(chain_dir, chain_id)
        started.append(start(folder / STATE_FILE_NAME, port=port, timestamp=timestamp,
                             log_file=folder / LOG_FILE_NAME, chain_id=chain_id))
    return started


def stop_further_targets(chain_dir: Path, targets, main_rpc_url: str) -> None:
    for _url, chain_id, _port in further_local_targets(targets, main_rpc_url):
        stop(target_state_dir(chain_dir, chain_id))


def is_further_target_anvil(chain_dir: Path, chain_id: int) -> bool:
    """True when the further local target `chain_id` is the anvil this data directory
    started (its pid file names a live anvil): a throw-away chain of this machine."""
    folder = target_state_dir(chain_dir, chain_id)
    pid = _read_pid(folder / PID_FILE_NAME)
    return pid is not None and _is_anvil_process(pid, folder)
