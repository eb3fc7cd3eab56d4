"""The ledger's errors, named for the code around it: the router waits out a ledger that
cannot commit, and the operator's commands report one they cannot read, without knowing which
database keeps it. Each database's adapter (sqlite.py, postgres.py) turns its driver's errors
into these, at the one place it talks to the driver."""

from __future__ import annotations


class LedgerError(Exception):
    """Whatever the ledger raises about itself: a file that is not a ledger, a query that
    failed, a database that refused the connection."""


class LedgerUnavailable(LedgerError):
    """The ledger cannot commit now but may later. `reason` is what a metric counts and
    readiness names: `locked` (another writer holds it; for PostgreSQL also a deadlock or a
    serialisation conflict, which a retry resolves), `disk_full`, `gone` (the database
    connection was lost) or `error`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DocumentExpired(LedgerError):
    """The document's body was deleted by retention (`[retention] body_days`); its hash and
    its evidence are kept. `pruned_at`: when."""

    def __init__(self, pruned_at: str) -> None:
        super().__init__(f"the document's body was deleted by retention at {pruned_at}")
        self.pruned_at = pruned_at


def why_unavailable(error: LedgerUnavailable) -> str:
    return error.reason
