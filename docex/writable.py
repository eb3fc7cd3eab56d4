"""Whether a program could write in a folder, asked before it starts rather than when it
first writes: `docex config check` and the router's start check the folders they name."""

from __future__ import annotations

import os
from pathlib import Path


def blocked_by(folder: Path) -> Path | None:
    """None if `folder` is writable, or missing but could be made; else the path in the way
    (the folder itself, or its nearest existing ancestor, when that is not a writable folder)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return None
    return existing
