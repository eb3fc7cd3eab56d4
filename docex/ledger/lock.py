"""One router per ledger.

Two routers on one ledger take turns locking it: each stalls the other, and both publish the
same outbox. `docex router run` therefore holds an exclusive lock on `<ledger>.lock` for as
long as it runs, with its pid written in the file for whoever finds it taken. The kernel lets
go of the lock when the process ends, however it ends (kill -9 included), so there is never a
stale lock to clean up. Read-only tools (`router status`, `report`, `notices`) do not take it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docex.i18n import _


class LedgerInUse(Exception):
    pass


@contextmanager
def held(ledger: Path) -> Iterator[None]:
    """Hold the ledger's lock while the block runs; LedgerInUse if another router has it."""
    path = Path(f"{ledger}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = file.read().strip() or "unknown"
            raise LedgerInUse(
                _(
                    "the ledger {ledger} is in use by another router (pid {pid}, lock {lock});"
                    " stop that one first, or give this one a ledger of its own ([router] ledger)"
                ).format(ledger=ledger, pid=holder, lock=path)
            ) from None
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        yield
