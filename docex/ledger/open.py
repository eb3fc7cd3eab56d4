"""Opening the ledger a location names (location.py), so the router and the tools need not
know which database keeps it."""

from __future__ import annotations

from pathlib import Path

from docex.ledger.location import sqlite_file
from docex.ledger.port import Ledger
from docex.ledger.sqlite import SqliteLedger


def open_ledger(
    location: str | Path,
    *,
    read_only: bool = False,
    checkpoints: bool = True,
    waits_for_locks: bool = True,
) -> Ledger:
    """`read_only`: for operators' tools beside the running router (nothing written, nothing
    created). `checkpoints` and `waits_for_locks`: see SqliteLedger."""
    return SqliteLedger(
        sqlite_file(location),
        read_only=read_only,
        checkpoints=checkpoints,
        waits_for_locks=waits_for_locks,
    )
