"""The embedded ledger: everything the exchange has accepted, sent and been told, in one SQLite
file.

A command's effects and the messages it must publish are written in one transaction (the
transactional outbox), so a crash at any point loses nothing. One router writes it (BEGIN
IMMEDIATE serialises writers anyway); WAL mode lets operators' read-only tools look at the file
while it runs.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docex.i18n import _
from docex.ledger import schema
from docex.ledger.errors import LedgerError, LedgerUnavailable
from docex.ledger.records import RouterRecord
from docex.ledger.sql import Cursor, SqlLedger


class SqliteLedger(SqlLedger):
    _db: _Connection

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        checkpoints: bool = True,
        waits_for_locks: bool = True,
        syncs_commits: bool = True,
    ) -> None:
        """`waits_for_locks=False`: a write that finds the ledger locked raises at once instead
        of waiting up to 5 s in the calling thread (docex/router/ledger_health.py).
        `syncs_commits=False`: a commit returns before it is on disk, and the caller makes
        it durable with `sync()` before anyone outside learns of it: the router does that off
        the event loop, one fsync for every commit made meanwhile (a group commit)."""
        self.path = path
        self._syncs_commits = syncs_commits
        # The write-ahead log's inode when its folder entry was last made durable.
        self._synced_log: int | None = None
        if read_only:
            # For operators' tools beside a running router: no writes, and nothing created.
            if not path.is_file():
                raise LedgerError(_("no ledger at {path}").format(path=path))
            self._db = _Connection(
                _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _Connection(
            _connect(
                str(path),
                timeout=5.0 if waits_for_locks else 0.0,
                isolation_level=None,
                check_same_thread=False,
            )
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the router has acked a message for must survive power loss. NORMAL
        # appends to the log without waiting for the disk; `sync()` then waits for it.
        self._db.execute(f"PRAGMA synchronous={'FULL' if syncs_commits else 'NORMAL'}")
        self._db.execute("PRAGMA foreign_keys=ON")
        if not checkpoints:
            # docex/ledger/checkpoint.py does them, off the event loop.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._migrate()
        # A ledger that cannot be written is found now, not at the first command.
        with self.transaction():
            pass

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        try:
            steps = schema.pending("sqlite", int(version))
        except schema.SchemaTooNew as exc:
            raise LedgerError(f"{self.path}: {exc}") from None
        if not steps:
            return
        for number, script in steps:
            # In the script's own transaction: executescript commits any transaction it is in.
            try:
                self._db.executescript(
                    f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;"
                )
            except LedgerError:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @property
    def connection(self) -> _Connection:
        """The connection itself, for docex/ledger/migrate.py's copy."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def _instant(self, stamp: str) -> str:
        return f"julianday({stamp})"

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[None]:
        """`durable=False` commits without waiting for the disk, for bookkeeping that is
        redone if lost: a power cut may undo such a commit (and only together with whatever
        came after it and before the next durable commit, which makes them all durable)."""
        switches = not durable and self._syncs_commits
        if switches:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite may or may not have rolled back already after an error such as a full
                # disk; a transaction left open would refuse every later BEGIN.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        finally:
            if switches:
                self._db.execute("PRAGMA synchronous=FULL")

    def sync(self) -> None:
        """Make every commit so far durable, as `synchronous=FULL` would have at each commit:
        in WAL mode a commit is frames appended to the log, so an fsync of the log keeps them
        all. Safe from another thread: it touches only the file, not the connection."""
        log_path = f"{self.path}-wal"
        try:
            fd = os.open(log_path, os.O_RDONLY)
        except FileNotFoundError:
            return  # no log: nothing was committed since it was last checkpointed away
        try:
            os.fsync(fd)
            inode = os.fstat(fd).st_ino
        except OSError as exc:
            # After a failed fsync the kernel may have dropped the pages: never retried.
            raise LedgerError(f"{log_path}: commits could not be made durable: {exc}") from exc
        finally:
            os.close(fd)
        if inode != self._synced_log:
            # A new log file: its name in the folder must survive a power cut too.
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
            self._synced_log = inode

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo one command's partial effects without losing the rest of its batch."""
        self._db.execute("SAVEPOINT command")
        try:
            yield
        except BaseException:
            # Unless SQLite rolled the whole transaction back (a full disk, an I/O error).
            if self._db.in_transaction:
                self._db.execute("ROLLBACK TO command")
                self._db.execute("RELEASE command")
            raise
        self._db.execute("RELEASE command")

    def _unchained(self, after_event: int | None, limit: int) -> list[tuple[int, bytes]]:
        """One writer: ids are in commit order."""
        rows = self._db.execute(
            "SELECT id, hash FROM audit_events WHERE id > ? ORDER BY id LIMIT ?",
            (after_event or 0, limit),
        ).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def _uncount(self, doc_id: str) -> None:
        self._db.execute(
            "UPDATE delivery_states SET count = count - (SELECT count(*) FROM deliveries"
            " WHERE doc_id = ? AND deliveries.state = delivery_states.state)",
            (doc_id,),
        )

    def routers(self) -> list[RouterRecord]:
        """None listed: a SQLite ledger has its one router, which needs no roll call."""
        return []

    def apply_once(self, digest: str, at: str, router: str) -> bool:
        """One router per SQLite ledger: its configuration changes always apply."""
        self.record_event("config_reloaded", at=at, digest=digest, router=router)
        return True

    def lock_subject(self, subject: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already lets one transaction write at a time."""

    def fold_state_counts(self) -> None:
        """Nothing to do: triggers keep the counts in the transactions that change them."""


class _Connection:
    """sqlite3, with its errors turned into the ledger's (docex/ledger/errors.py)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise _translated(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _translated(exc) from exc

    def executescript(self, script: str) -> None:
        try:
            self._db.executescript(script)
        except sqlite3.Error as exc:
            raise _translated(exc) from exc

    def close(self) -> None:
        self._db.close()


def _connect(database: str, **options: Any) -> sqlite3.Connection:
    try:
        return sqlite3.connect(database, **options)
    except sqlite3.Error as exc:
        raise _translated(exc) from exc


def _translated(error: sqlite3.Error) -> LedgerError:
    if not isinstance(error, sqlite3.OperationalError):
        return LedgerError(str(error))
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return LedgerUnavailable(str(error), "locked")
    if code == sqlite3.SQLITE_FULL:
        return LedgerUnavailable(str(error), "disk_full")
    return LedgerUnavailable(str(error), "error")
