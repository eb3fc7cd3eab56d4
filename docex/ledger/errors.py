"""The ledger's errors, named for the code around it: the router waits out a ledger that
cannot commit, and the operator's commands report one they cannot read, without knowing that
the ledger is SQLite (only docex/ledger/ imports sqlite3)."""

from __future__ import annotations

import sqlite3

# Whatever the ledger raises about itself: a file that is not a ledger, a query that failed.
LedgerError = sqlite3.Error
# The ledger cannot commit now but may later: locked by another process, the disk full, I/O.
LedgerUnavailable = sqlite3.OperationalError


def why_unavailable(error: LedgerUnavailable) -> str:
    """`locked`, `disk_full` or `error`: the reason a metric counts and readiness names."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return "locked"
    if code == sqlite3.SQLITE_FULL:
        return "disk_full"
    return "error"
