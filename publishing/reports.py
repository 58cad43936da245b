"""Canonical daily reports: the JSON whose sha256 is published on chain.

A report is canonical when the same figures always give the same bytes: keys sorted, no
whitespace, every number as an exact decimal string (never a float), dates ISO 8601.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aidnav import __version__
from ledger.exact import plain_text

METHODOLOGY_VERSION = "v1"


def _canonical_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_text(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} into a canonical report")


def canonical_bytes(report: dict[str, Any]) -> bytes:
    return json.dumps(
        report, sort_keys=True, separators=(",", ":"), default=_canonical_default
    ).encode("utf-8")


def report_hash(report: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_bytes(report)).digest()


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    sha256: bytes

    @property
    def sha256_hex(self) -> str:
        return "0x" + self.sha256.hex()


def write_report(report: dict[str, Any], path: Path) -> WrittenReport:
    """Write the canonical bytes atomically (temp file, then rename) and return their hash."""
    data = canonical_bytes(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return WrittenReport(path=path, sha256=hashlib.sha256(data).digest())


def code_version() -> str:
    return f"aidnav {__version__} / methodology {METHODOLOGY_VERSION}"
