"""Opening the ledger a location names (location.py), so the router and the tools need not
know which database keeps it."""

from __future__ import annotations

from pathlib import Path

from docex.i18n import _
from docex.ledger.location import is_postgresql, sqlite_file
from docex.ledger.port import Ledger


class LedgerMissing(Exception):
    pass


def open_ledger(
    location: str | Path,
    *,
    read_only: bool = False,
    checkpoints: bool = True,
    waits_for_locks: bool = True,
    create: bool = True,
    syncs_commits: bool = True,
) -> Ledger:
    """`read_only`: for operators' tools beside the running router (nothing written, nothing
    created). `create=False`: LedgerMissing rather than a new, empty ledger, for the router,
    which must not start afresh on a SQLite file that was moved or not mounted (a PostgreSQL
    database that does not exist is refused by the server; an empty one gets the schema).
    `checkpoints`, `waits_for_locks` and `syncs_commits`: see SqliteLedger; PostgreSQL has
    none of them (the server checkpoints and syncs, and a lock wait happens only for the
    subjects a transaction touches)."""
    if is_postgresql(location):
        # Imported here: the driver is loaded only where a PostgreSQL ledger is used.
        from docex.ledger.postgres import PostgresLedger

        return PostgresLedger(str(location), read_only=read_only)
    from docex.ledger.sqlite import SqliteLedger

    path = sqlite_file(location)
    if not create and not read_only and not path.is_file():
        raise LedgerMissing(_("no ledger at {path}").format(path=path))
    return SqliteLedger(
        path,
        read_only=read_only,
        checkpoints=checkpoints,
        waits_for_locks=waits_for_locks,
        syncs_commits=syncs_commits,
    )
