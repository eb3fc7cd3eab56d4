"""Copies the ledger's write-ahead log into the database file from a worker thread.

SQLite does this by itself once the log passes 1,000 pages, inside whichever commit crosses
that line: that commit then writes and fsyncs megabytes on the event loop, and with 64 KiB
documents the loop stood still for 55–110 ms every few dozen documents. The router's own
connection has that turned off (`Ledger(..., checkpoints=False)`); this does it instead, on a
connection of its own, in a thread, so commits only ever append to the log. PASSIVE never
waits for the router: what it cannot copy now, it copies next time.

Under a steady load that alone is not enough. SQLite starts the log over from its beginning
only at a commit that finds all of it copied, and syncs the database file only at the end of
a checkpoint that reached the log's end; with the router committing every few milliseconds,
no checkpoint got there. The log grew without end (1.8 GB in 30 s at 500 documents/s of 1 KiB,
a full disk in hours), and the pages copied into the database file stayed in the page cache
until the kernel wrote back hundreds of megabytes at once, stalling the broker's fsyncs on the
same disk. So each round fsyncs what it copied, and once the log is past `log_limit_bytes`,
a last pass copies the rest while the router's writers are held (`hold_writes`), a few
milliseconds, and starts the log over with a write of its own: the commit that starts it over
syncs the log's new header, and made by the router, that fsync would stall its event loop.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

import structlog

from docex.ledger.sql import RECORD_LIVENESS

log = structlog.get_logger("docex.router")

_INTERVAL_S = 1.0
# The log is started over once it holds this much; its file keeps its largest size (cutting it
# back would be work inside the commit that starts it over), a little above this.
_LOG_LIMIT_BYTES = 256 * 1024 * 1024


class Checkpointer:
    def __init__(
        self,
        ledger_path: Path,
        interval_s: float = _INTERVAL_S,
        *,
        hold_writes: Callable[[], AbstractAsyncContextManager[None]] | None = None,
        log_limit_bytes: int = _LOG_LIMIT_BYTES,
    ) -> None:
        """`hold_writes()`: while inside it, nothing commits to the ledger (the router's
        LedgerHealth.writes_held); without it the log is never started over under load."""
        self._interval_s = interval_s
        # The file SQLite's descriptors point at (_sync_database).
        found = ledger_path.stat()
        self._file = (found.st_dev, found.st_ino)
        # Which of SQLite's descriptors that was, when last looked up.
        self._descriptor: int | None = None
        self._hold_writes = hold_writes
        self._log_limit_bytes = log_limit_bytes
        # Used from one worker thread at a time, never two at once.
        # Never waits for a lock: the router's writers may be held meanwhile.
        self._db = sqlite3.connect(
            ledger_path, timeout=0.0, isolation_level=None, check_same_thread=False
        )
        # As the router's connection: its commit that starts the log over need not wait for
        # the disk; the router's next sync covers it.
        self._db.execute("PRAGMA synchronous=NORMAL")
        (self._page_size,) = self._db.execute("PRAGMA page_size").fetchone()
        # The log's frames (pages) and how many of them are copied, as the last pass found.
        self._frames = 0
        self._copied = 0
        # The last attempt to start the log over found it held by another process.
        self._pinned = False
        # Cancelling the task does not stop its thread: closing the connection under a
        # checkpoint still running there crashed the process (a segfault in SQLite).
        self._in_use = threading.Lock()

    async def run(self) -> None:
        """Logged once when checkpoints start failing (a full disk fails one a second), and
        once when they work again."""
        failing = False
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self._round()
            except (sqlite3.Error, OSError) as exc:
                # The log only grows meanwhile; the next round tries again.
                if not failing:
                    log.warning("ledger_checkpoint_failed", error=str(exc))
                failing = True
            else:
                if failing:
                    log.info("ledger_checkpoint_resumed")
                failing = False

    async def _round(self) -> None:
        await asyncio.to_thread(self._checkpoint)
        if self._hold_writes is None or self.log_bytes < self._log_limit_bytes:
            return
        # What was committed during the pass above, copied while the router writes on, so
        # that the pass it waits for has only the last few commits left.
        await asyncio.to_thread(self._checkpoint)
        async with self._hold_writes():
            await asyncio.to_thread(self._start_over)
        # A reader from another process can keep the log from starting over even after all of
        # it was copied; then SQLite goes on appending to it.
        await asyncio.to_thread(self._checkpoint)
        started_over = self.log_bytes < self._log_limit_bytes
        if started_over and self._pinned:
            log.info("ledger_log_started_over")
        elif not started_over and not self._pinned:
            # Said once, until it can again: the log grows meanwhile, by all that is committed.
            log.warning(
                "ledger_log_not_started_over",
                log_mib=self.log_bytes // (1024 * 1024),
                reason="another process keeps a transaction open on the ledger (an open"
                " sqlite3 shell after BEGIN?) or is writing to it",
            )
        self._pinned = not started_over

    @property
    def log_bytes(self) -> int:
        """What the write-ahead log holds, as the last pass found it (docex_ledger_log_bytes)."""
        return int(self._frames * self._page_size)

    def close(self) -> None:
        """Apart from `run`, which the router's supervisor may start again after a failure."""
        with self._in_use:
            self._db.close()

    def _checkpoint(self) -> None:
        with self._in_use:
            self._pass()

    def _start_over(self) -> None:
        """With the router's writers held: nothing is appended meanwhile, so the pass reaches
        the log's end unless another process still reads an older part of it."""
        with self._in_use:
            if not self._pass():
                return
            # A commit that finds the whole log copied starts it over from the beginning.
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                    return  # another process is writing: next time
                raise
            try:
                self._db.execute(
                    RECORD_LIVENESS, (datetime.now(UTC).isoformat(timespec="seconds"),)
                )
                self._db.execute("COMMIT")
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    def _pass(self) -> bool:
        """True when the whole log as this pass found it is copied."""
        _busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._frames = frames
        if copied != self._copied:
            self._copied = copied
            # SQLite syncs the file itself only after a pass that reached the log's end.
            self._sync_database()
        return bool(copied == frames)

    def _sync_database(self) -> None:
        """fsync the database file through a descriptor SQLite already holds on it, never one
        of ours: closing any descriptor of a file drops every POSIX lock the process holds on
        it, SQLite's included. With its own open and close here, other processes stopped
        seeing the router's connection, and a `docex users` command's writes went unseen by
        the router (tests/ledger/test_sqlite.py). Where /proc is missing, the kernel writes
        the pages back in its own time."""
        if self._descriptor is None or not self._points_at_database(self._descriptor):
            self._descriptor = self._find_descriptor()
        if self._descriptor is not None:
            os.fsync(self._descriptor)

    def _find_descriptor(self) -> int | None:
        try:
            descriptors = os.listdir("/proc/self/fd")
        except FileNotFoundError:
            return None
        return next(
            (int(name) for name in descriptors if self._points_at_database(int(name))), None
        )

    def _points_at_database(self, descriptor: int) -> bool:
        try:
            found = os.fstat(descriptor)
        except OSError:
            return False  # closed since
        return (found.st_dev, found.st_ino) == self._file
