"""Several routers on one PostgreSQL ledger: who takes which units' commands, and who runs the
jobs that must run once for the whole exchange.

Ownership lives in PostgreSQL as session-level advisory locks on one control session per
router, so it ends with the session, however the router ends: a crash closes the socket at
once, a dead host is found by keepalives, and a frozen router (SIGSTOP, a wedged loop) stops
using its session and the server ends it after its idle timeout (docex/ledger/postgres.py).
- Units are split into `partitions` by a hash of their id. A router consumes the intake queues,
  and publishes the outbox rows, of the units in the partitions it holds. Each takes its fair
  share, ⌈partitions / live routers⌉, from the `routers` table every tick, and gives back what
  is over it: the router stops consuming first, then unlocks. The intake queues are
  single-active-consumer, so even a router that has lost its lock without knowing it cannot be
  fed beside the new owner: a unit's commands are applied in the order it sent them.
- The leader holds one more lock and runs the exchange-wide jobs (link watch and paper notices,
  information watch, SMS, folding the state counts) on this very session, whose transactions
  commit only while the lock is held (PostgresLedger's fence): a deposed or frozen leader,
  resumed, writes nothing.
The embedded ledger (SQLite) has one router, which is always the leader and owns every unit.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
import zlib
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog

from docex.ledger.errors import LedgerError
from docex.ledger.postgres import LEADER_LOCK, PostgresLedger

log = structlog.get_logger("docex.router")

_TICK_S = 2.0
# A router not seen for this long is no longer counted when shares are worked out.
_ALIVE_S = 10
# Beyond this the router's stamps (send and receipt times, the 15:00 cutoff) are not to be
# trusted: it is not ready until NTP has fixed its clock.
_MAX_SKEW_S = 1.0


def partition_of(key: str, partitions: int) -> int:
    """Stable across routers, processes and Python versions (unlike hash())."""
    return zlib.crc32(key.encode()) % partitions


class SoloCluster:
    """One router on its own ledger: leader of itself, owner of everything."""

    leader = True

    def owns(self, key: str) -> bool:
        return True

    def problems(self) -> list[str]:
        return []


class SharedCluster:
    def __init__(
        self,
        session: PostgresLedger,
        partitions: int,
        config_digest: Callable[[], str],
        broker_connected: Callable[[], bool],
        on_partitions: Callable[[set[int]], Awaitable[None]],
        on_leader: Callable[[bool], Awaitable[None]],
        router_id: str | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`session` is the router's control session; the leader's jobs run on it.
        `on_partitions(owned)` is awaited before a partition is unlocked and after one is
        locked; `on_leader(leading)` when leadership is won or lost. `now`: this host's clock,
        in Unix seconds, compared with the database's."""
        self.session = session
        self.partitions = partitions
        self.id = router_id or f"{socket.gethostname()}:{os.getpid()}"
        self.leader = False
        self.owned: set[int] = set()
        self.skew_s = 0.0
        self._config_digest = config_digest
        self._broker_connected = broker_connected
        self._on_partitions = on_partitions
        self._on_leader = on_leader
        self._error: str | None = None
        self._now = now

    def owns(self, key: str) -> bool:
        return partition_of(key, self.partitions) in self.owned

    def problems(self) -> list[str]:
        problems = []
        if abs(self.skew_s) > _MAX_SKEW_S:
            problems.append(f"clock: {self.skew_s:+.1f} s off the database's; fix NTP on this host")
        if self._error:
            problems.append(f"cluster: {self._error}")
        return problems

    async def run(self) -> None:
        """Ticks after the first, which the router runs as it starts."""
        while True:
            await asyncio.sleep(_TICK_S)
            await self.tick()

    async def tick(self) -> None:
        try:
            held = self.session.held_locks()
            self.skew_s = self.session.database_clock_skew(self._now())
            was_leader = self.leader
            self.leader = LEADER_LOCK in held or self.session.try_lock(LEADER_LOCK)
            lost = {p for p in self.owned if 1 + p not in held}
            self._heartbeat()
            live = self.session.live_routers(_ALIVE_S)
            self._error = None
        except LedgerError as exc:
            # The session is gone, and every lock with it.
            if self._error is None:
                log.warning("cluster_session_lost", error=str(exc))
            self._error = f"control session: {exc}"
            with suppress(LedgerError):
                self.session.reconnect()
            was_leader, self.leader, lost, live = self.leader, False, set(self.owned), []
        if was_leader != self.leader:
            log.info("leader_changed", router=self.id, leader=self.leader)
            await self._on_leader(self.leader)
        if lost:
            log.warning("partitions_lost", partitions=sorted(lost))
            self.owned -= lost
            await self._on_partitions(set(self.owned))
        if not live:
            return
        await self._rebalance(live)

    async def _rebalance(self, live: list[str]) -> None:
        share = math.ceil(self.partitions / max(len(live), 1))
        if len(self.owned) > share:
            extra = sorted(self.owned)[share:]
            self.owned -= set(extra)
            await self._on_partitions(set(self.owned))
            for partition in extra:
                self.session.unlock(1 + partition)
            log.info("partitions_released", partitions=extra)
            return
        start = live.index(self.id) if self.id in live else 0
        order = [(start * share + step) % self.partitions for step in range(self.partitions)]
        taken = []
        for partition in order:
            if len(self.owned) >= share:
                break
            if partition not in self.owned and self.session.try_lock(1 + partition):
                self.owned.add(partition)
                taken.append(partition)
        if taken:
            log.info("partitions_taken", partitions=taken)
            await self._on_partitions(set(self.owned))

    def _heartbeat(self) -> None:
        self.session.heartbeat(
            self.id,
            broker_connected=self._broker_connected(),
            config_digest=self._config_digest(),
            clock_skew_ms=round(self.skew_s * 1000),
            leader=self.leader,
            partitions=sorted(self.owned),
        )

    async def stop(self) -> None:
        """Give everything back at once, so the others need not wait for the session to end."""
        self.owned.clear()
        self.leader = False
        with suppress(LedgerError):
            self.session.leave(self.id)
