"""Opening the ledger a location names (location.py), so the router and the tools need not
know which database keeps it."""

from __future__ import annotations

from pathlib import Path

from docex.ledger.location import is_postgresql, sqlite_file
from docex.ledger.port import Ledger


def open_ledger(
    location: str | Path,
    *,
    read_only: bool = False,
    checkpoints: bool = True,
    waits_for_locks: bool = True,
) -> Ledger:
    """`read_only`: for operators' tools beside the running router (nothing written, nothing
    created). `checkpoints` and `waits_for_locks`: see SqliteLedger; PostgreSQL has neither
    (the server checkpoints, and a lock wait happens only for the subjects a transaction
    touches)."""
    if is_postgresql(location):
        # Imported here: the driver is loaded only where a PostgreSQL ledger is used.
        from docex.ledger.postgres import PostgresLedger

        return PostgresLedger(str(location), read_only=read_only)
    from docex.ledger.sqlite import SqliteLedger

    return SqliteLedger(
        sqlite_file(location),
        read_only=read_only,
        checkpoints=checkpoints,
        waits_for_locks=waits_for_locks,
    )
