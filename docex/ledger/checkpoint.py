"""Copies the ledger's write-ahead log into the database file from a worker thread.

SQLite does this by itself once the log passes 1,000 pages, inside whichever commit crosses
that line: that commit then writes and fsyncs megabytes on the event loop, and with 64 KiB
documents the loop stood still for 55–110 ms every few dozen documents. The router's own
connection has that turned off (`Ledger(..., checkpoints=False)`); this does it instead, on a
connection of its own, in a thread, so commits only ever append to the log. PASSIVE never
waits for the router: what it cannot copy now, it copies next time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import structlog

log = structlog.get_logger("docex.router")

_INTERVAL_S = 1.0
# The log is truncated back to this after a checkpoint; without it, it keeps its largest size.
_LOG_SIZE_LIMIT = 64 * 1024 * 1024


class Checkpointer:
    def __init__(self, ledger_path: Path, interval_s: float = _INTERVAL_S) -> None:
        self._interval_s = interval_s
        # Used from one worker thread at a time, never two at once.
        self._db = sqlite3.connect(ledger_path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA journal_size_limit={_LOG_SIZE_LIMIT}")
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
                await asyncio.to_thread(self._checkpoint)
            except sqlite3.Error as exc:
                # The log only grows meanwhile; the next round tries again.
                if not failing:
                    log.warning("ledger_checkpoint_failed", error=str(exc))
                failing = True
            else:
                if failing:
                    log.info("ledger_checkpoint_resumed")
                failing = False

    def close(self) -> None:
        """Apart from `run`, which the router's supervisor may start again after a failure."""
        with self._in_use:
            self._db.close()

    def _checkpoint(self) -> None:
        with self._in_use:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
