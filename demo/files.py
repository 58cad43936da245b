"""Write-once file helpers: identical content is left untouched, new content lands atomically."""

from __future__ import annotations

import os
from pathlib import Path


class ImmutableFileConflict(RuntimeError):
    """A landing file already exists with different bytes (landing is immutable)."""


def write_if_changed(path: Path, data: bytes, *, immutable: bool) -> bool:
    """Write `data` to `path` through a temp name + os.replace.

    Returns True when the file was written, False when identical bytes were already there.
    For an immutable (landing) file with different existing bytes, raises
    ImmutableFileConflict naming the file instead of overwriting it.
    """
    if path.exists():
        existing = path.read_bytes()
        if existing == data:
            return False
        if immutable:
            raise ImmutableFileConflict(
                f"{path}: landing file already exists with different content "
                f"({len(existing)} bytes on disk, {len(data)} generated); landing is immutable, "
                "generate into a fresh data directory or use the same end_day/seed"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True
