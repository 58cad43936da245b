"""Start a throw-away local anvil chain the same way in every test folder.

    with local_anvil(tmp_path) as (rpc_url, stop):
        ...

`stop()` stops the node (state written to `tmp_dir/anvil-state.json`); leaving the
block stops it too. Plain Python: usable from any pytest fixture or script.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from onchain import anvil

STATE_FILE_NAME = "anvil-state.json"
LOG_FILE_NAME = "anvil.log"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_anvil(
    tmp_dir: Path,
    timestamp: int | None = None,
    port: int | None = None,
    chain_id: int = anvil.LOCAL_CHAIN_ID,
) -> Iterator[tuple[str, Callable[[], None]]]:
    """A fresh anvil (chain id 31337 unless told) on a free port with its state in `tmp_dir`."""
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    chosen_port = port if port is not None else free_port()
    status = anvil.start(
        tmp_dir / STATE_FILE_NAME,
        port=chosen_port,
        timestamp=timestamp,
        log_file=tmp_dir / LOG_FILE_NAME,
        chain_id=chain_id,
    )

    def stop() -> None:
        anvil.stop(tmp_dir)

    try:
        yield status.rpc_url, stop
    finally:
        stop()
