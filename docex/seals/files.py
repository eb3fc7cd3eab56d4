"""How the seals package writes to disk: whole files atomically, records by appending.

A crash must never leave half a carrier, half a revocation list or half a ceremony record
where a good one was; every write is flushed to the disk before the command reports success.
"""

import os
import secrets
from pathlib import Path


def write_private(path: Path, content: bytes) -> None:
    """Mode 0600 from the first byte: a chmod after writing would leave a window."""
    _write_atomically(path, content, 0o600)


def write_public(path: Path, content: bytes) -> None:
    """For what anyone may read (certificates, the revocation list), still written atomically."""
    _write_atomically(path, content, 0o644)


def append_line(path: Path, line: bytes) -> None:
    """One record per line; O_APPEND so a record is never written over another."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with os.fdopen(fd, "ab") as f:
        f.write(line + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
