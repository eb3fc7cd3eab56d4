"""Opening the ledger a location names (location.py), so the router and the tools need not
know which database keeps it."""

from __future__ import annotations

from pathlib import Path

from docex.ledger.location import sqlite_file
from docex.ledger.port import Ledger
from docex.ledger.sqlite import SqliteLedger


class LedgerMissing(Exception):
    pass


def open_ledger(
    location: str | Path,
    *,
    read_only: bool = False,
    checkpoints: bool = True,
    waits_for_locks: bool = True,
    create: bool = True,
) -> Ledger:
    """`read_only`: for operators' tools beside the running router (nothing written, nothing
    created). `create=False`: LedgerMissing rather than a new, empty ledger, for the router,
    which must not start afresh on a ledger that was moved or not mounted.
    `checkpoints` and `waits_for_locks`: see SqliteLedger."""
    path = sqlite_file(location)
    if not create and not read_only and not path.is_file():
        raise LedgerMissing(f"no ledger at {path}")
    return SqliteLedger(
        path,
        read_only=read_only,
        checkpoints=checkpoints,
        waits_for_locks=waits_for_locks,
    )
