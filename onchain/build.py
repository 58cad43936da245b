"""Compile the Vyper contracts offline and cache their ABI and bytecode.

The cache lives in `onchain/build/` (git-ignored), one JSON file per contract inside a
folder named after a hash of every source below `contracts/` (the deployable contracts and
the modules they share, such as `admin_roles.vy`), the snekmate modules and the compiler
version. A second call with unchanged inputs reads the JSON and compiles
nothing; a changed source or compiler gets a new folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
BUILD_DIR = Path(__file__).resolve().parent / "build"

CONTRACT_NAMES: tuple[str, ...] = (
    "MockUSDC",
    "AidToken",
    "StakedAid",
    "GaibToken",
    "NavOracle",
    "RewardsDistributor",
)

_lock = threading.Lock()


class ContractBuildError(RuntimeError):
    """A contract failed to compile, or an unknown contract was asked for."""


def _snekmate_dir() -> Path:
    import snekmate

    # snekmate ships no __init__.py: it is a namespace package.
    return Path(next(iter(snekmate.__path__))).resolve()


def _compiler_version() -> str:
    import vyper

    return str(vyper.__version__)


def _source_files() -> list[Path]:
    files = sorted(CONTRACTS_DIR.rglob("*.vy"))
    files += sorted(CONTRACTS_DIR.rglob("*.vyi"))
    files += sorted(_snekmate_dir().rglob("*.vy"))
    files += sorted(_snekmate_dir().rglob("*.vyi"))
    return files


def source_hash() -> str:
    """Hash of the contract sources, the snekmate modules and the compiler version."""
    digest = hashlib.sha256()
    digest.update(f"vyper={_compiler_version()}\n".encode())
    for path in _source_files():
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _compile_all(out_dir: Path) -> None:
    from vyper.cli.vyper_compile import compile_files

    sources = [str(CONTRACTS_DIR / f"{name}.vy") for name in CONTRACT_NAMES]
    missing = [s for s in sources if not Path(s).is_file()]
    if missing:
        raise ContractBuildError(f"contract source missing: {', '.join(missing)}")
    try:
        compiled = compile_files(sources, ["abi", "bytecode"], paths=[str(CONTRACTS_DIR)])
    except Exception as exc:  # vyper raises many exception types; name the cause
        raise ContractBuildError(f"vyper {_compiler_version()} failed: {exc}") from exc

    out_dir.mkdir(parents=True, exist_ok=True)
    by_name = {Path(str(path)).stem: result for path, result in compiled.items()}
    for name in CONTRACT_NAMES:
        result = by_name[name]
        bytecode = result["bytecode"]
        if not bytecode.startswith("0x"):
            bytecode = "0x" + bytecode
        artifact = {
            "contract": name,
            "compiler": f"vyper-{_compiler_version()}",
            "abi": result["abi"],
            "bytecode": bytecode,
        }
        # write to a temporary name then rename: a parallel reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(artifact, fh)
        os.replace(tmp, out_dir / f"{name}.json")


def build_all(build_dir: Path | None = None) -> Path:
    """Compile every contract unless the cache for the current sources exists.

    Returns the folder holding `<Name>.json` for each contract.
    """
    out_dir = (build_dir or BUILD_DIR) / source_hash()
    with _lock:
        if not all((out_dir / f"{name}.json").is_file() for name in CONTRACT_NAMES):
            _compile_all(out_dir)
    return out_dir


@lru_cache(maxsize=None)
def _load(name: str, out_dir: str) -> dict[str, Any]:
    with open(Path(out_dir) / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)


def load_artifact(name: str) -> dict[str, Any]:
    """ABI and bytecode of a contract: `{"abi": [...], "bytecode": "0x..."}`."""
    if name not in CONTRACT_NAMES:
        raise ContractBuildError(
            f"unknown contract {name!r}; expected one of {', '.join(CONTRACT_NAMES)}"
        )
    artifact = _load(name, str(build_all()))
    return {"abi": artifact["abi"], "bytecode": artifact["bytecode"]}


if __name__ == "__main__":
    print(build_all())
