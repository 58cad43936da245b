"""Audited overrides: an operator approves one day's large but legitimate share-price move.

An override has a reason and an approver. It comes from the publish step's run config
(`override_reason`, `override_approver`) or from `<data>/overrides/<YYYY-MM-DD>.json`
(`{"reason": ..., "approver": ...}`); the run config wins when both exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any


class OverrideError(ValueError):
    """An override file or config that cannot be accepted (it names file and field)."""


@dataclass(frozen=True)
class Override:
    reason: str
    approver: str
    source: str  # "run_config" or the file's path

    def as_report(self) -> dict[str, str]:
        return {"reason": self.reason, "approver": self.approver}


def override_path(data_dir: Path, day: date) -> Path:
    return Path(data_dir) / "overrides" / f"{day.isoformat()}.json"


def read_override_file(data_dir: Path, day: date) -> Override | None:
    path = override_path(data_dir, day)
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OverrideError(f"{path}: not a JSON object ({exc})") from None
    if not isinstance(body, dict):
        raise OverrideError(f"{path}: expected a JSON object with 'reason' and 'approver'")
    for name in ("reason", "approver"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise OverrideError(f"{path}: field '{name}' must be a non-empty string")
    return Override(reason=body["reason"].strip(), approver=body["approver"].strip(), source=str(path))


def resolve_override(
    data_dir: Path, day: date, reason: str | None = None, approver: str | None = None
) -> Override | None:
    """The override for `day`: from run config when a reason is given, else from the file."""
    if reason:
        # an empty approver is kept as such: the blocking check refuses it with a reason
        return Override(reason=reason, approver=approver or "", source="run_config")
    return read_override_file(data_dir, day)


def publish_config_from_run_config(run_config: dict[str, Any]) -> dict[str, Any]:
    """The publish op's `config` inside a run's run config ({} when absent)."""
    ops = (run_config or {}).get("ops") or {}
    for name, body in ops.items():
        if "daily_publication" in name and isinstance(body, dict):
            return body.get("config") or {}
    return {}
