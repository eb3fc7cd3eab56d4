"""Whether the ledger can commit, and how the router's writers wait while it cannot.

SQLite waits for a lock by sleeping in the thread that asked, which for the router is the
event loop: a 12 s write lock held by an operator's sqlite3 shell froze intake, publishing,
the metrics and the watchdog alike. So the router's connection does not wait
(`Ledger(..., waits_for_locks=False)`): a write that finds the ledger locked, or the disk full,
raises at once, and the writer comes here to sleep on the loop and try again, keeping whatever
it holds (intake its unacked batch, the outbox its confirmed rows), while the rest of the
router goes on.

Readiness is what the commits say: while any writer's last attempt failed, the router is not
ready, with the reason and since when. A probe commits a row every few seconds, so an idle
router finds out too. It is a real, durable write: taking the write lock and rolling back
succeeds on a full disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from prometheus_client import Counter

from docex.backoff import Backoff
from docex.ledger.errors import LedgerUnavailable, why_unavailable
from docex.ledger.port import LedgerWrites

log = structlog.get_logger("docex.router")

T = TypeVar("T")

_PROBE_INTERVAL_S = 2.0
# A failed attempt costs next to nothing (the lock is refused at once), and the sooner a
# writer tries again, the sooner the documents it holds go on.
_RETRY_INITIAL_S = 0.05
_RETRY_CAP_S = 1.0

_WHY = {
    "locked": "locked by another process (an open sqlite3 shell or another program writing?)",
    "disk_full": "the disk is full",
}


class LedgerHealth:
    def __init__(
        self, ledger: LedgerWrites, retries: Counter, sync: Callable[[], None] | None = None
    ) -> None:
        """`sync`: makes every commit so far durable, for a ledger whose commits return before
        they are on disk (SqliteLedger(syncs_commits=False)); run off the event loop."""
        self._ledger = ledger
        self._retries = retries
        self._sync = sync
        # Group commit: durable commits made through here, and how many of them are on disk
        # (the others are bookkeeping that is redone if a power cut undoes it).
        self._committed = 0
        self._synced = 0
        self._syncing: asyncio.Task[None] | None = None
        # The writers whose last attempt failed; the episode lasts while there are any.
        self._failing: set[str] = set()
        self._since: datetime | None = None
        self._error: LedgerUnavailable | None = None
        # Cleared while docex/ledger/checkpoint.py finishes a checkpoint: see writes_held.
        self._writes_open = asyncio.Event()
        self._writes_open.set()

    @asynccontextmanager
    async def writes_held(self) -> AsyncIterator[None]:
        """Writers that come here meanwhile wait; one already in its transaction finishes it
        first (a transaction never spans an await). The checkpointer holds them for the few
        milliseconds its last pass takes, because SQLite starts its write-ahead log over only
        once a checkpoint has reached the log's end, and under a steady load the router
        always wrote more before a checkpoint got there."""
        self._writes_open.clear()
        try:
            yield
        finally:
            self._writes_open.set()

    async def commit(self, writer: str, apply: Callable[[], T], *, durable: bool = True) -> T:
        """`apply` in one transaction, applied again until the transaction commits."""

        def in_transaction() -> T:
            with self._ledger.transaction(durable):
                return apply()

        return await self.retry(writer, in_transaction, durable=durable)

    async def retry(self, writer: str, work: Callable[[], T], *, durable: bool = True) -> T:
        """Run `work`, which commits by itself, again and again until it gets through, and
        (`durable`) until what it committed is on disk. Only what is wrong with the ledger
        is waited out (LedgerUnavailable: locked, disk full, I/O); anything else is raised,
        for the task's supervisor."""
        backoff = Backoff(initial_s=_RETRY_INITIAL_S, cap_s=_RETRY_CAP_S)
        committed = False
        try:
            while True:
                await self._writes_open.wait()
                try:
                    result = work()
                except LedgerUnavailable as exc:
                    self._failed(writer, exc)
                    await asyncio.sleep(backoff.next_delay())
                else:
                    committed = True
                    if durable:
                        self._committed += 1
                        await self.durable()
                    return result
        finally:
            self._done(writer, committed)

    async def durable(self) -> None:
        """Returns once every commit made through here before the call is on disk (every
        writer of the router's connection commits through here). The fsync runs in a worker
        thread, so the event loop publishes and acks meanwhile, and one fsync serves every
        writer that asked while the one before it ran (a group commit): the disk's stalls no
        longer stop the router, and under load it syncs once per round, not once per
        transaction. Nothing committed since the last fsync: nothing to wait for."""
        if self._sync is None:
            return
        wanted = self._committed
        while self._synced < wanted:
            if self._syncing is None:
                self._syncing = asyncio.create_task(self._sync_all())
            await asyncio.shield(self._syncing)

    async def _sync_all(self) -> None:
        assert self._sync is not None
        covers = self._committed
        try:
            await asyncio.to_thread(self._sync)
            self._synced = max(self._synced, covers)
        finally:
            self._syncing = None

    async def probe(self, interval_s: float = _PROBE_INTERVAL_S) -> None:
        while True:
            await self.commit("probe", lambda: self._ledger.record_liveness(_now()))
            await asyncio.sleep(interval_s)

    def problems(self) -> list[str]:
        """Why the ledger cannot commit, for /readyz; empty when it can."""
        if self._since is None or self._error is None:
            return []
        lasted = (datetime.now(UTC) - self._since).total_seconds()
        why = _WHY.get(why_unavailable(self._error), "cannot write")
        return [
            f"ledger: cannot commit since {self._since:%Y-%m-%d %H:%M:%S} UTC ({lasted:.0f} s):"
            f" {why} ({self._error})"
        ]

    def _failed(self, writer: str, error: LedgerUnavailable) -> None:
        reason = why_unavailable(error)
        self._retries.labels(writer, reason).inc()
        if self._since is None:
            self._since = datetime.now(UTC)
            log.warning("ledger_unwritable", reason=reason, error=str(error), writer=writer)
        self._failing.add(writer)
        self._error = error

    def _done(self, writer: str, committed: bool) -> None:
        """The writer waits no more: it committed, or it stopped or failed otherwise."""
        if writer not in self._failing:
            return
        self._failing.discard(writer)
        if self._failing:
            return
        if committed and self._since is not None:
            lasted = (datetime.now(UTC) - self._since).total_seconds()
            log.info("ledger_writable", after_s=round(lasted, 1))
        self._since = self._error = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
