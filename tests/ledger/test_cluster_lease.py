"""The leader's lease and the routers' roll call on a PostgreSQL ledger
(docex/router/cluster.py, docex/ledger/postgres.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import psycopg
import pytest

from docex.ledger.errors import LedgerUnavailable
from docex.ledger.postgres import (
    LEADER_LOCK,
    OUTBOX_CHANNEL,
    PostgresLedger,
    listen_for_outbox,
)
from docex.router.cluster import SharedCluster
from tests.postgres import schema_url


@pytest.fixture
def url(postgres_database: str) -> Iterator[str]:
    with schema_url(postgres_database) as made:
        yield made


def backend_pid(ledger: PostgresLedger) -> int:
    (pid,) = ledger.connection.execute("SELECT pg_backend_pid()").fetchone()
    return int(pid)


def test_a_deposed_leader_writes_nothing(url: str) -> None:
    """The leader's session ends (a frozen router cut off by the server's idle timeout, a
    cut network): another router takes the lease, and the old leader's next transaction,
    on a session opened again, is refused before it writes anything."""
    leader = PostgresLedger(url, fenced_by=LEADER_LOCK)
    assert leader.try_lock(LEADER_LOCK)
    with leader.transaction():
        leader.enqueue("finance", "written-while-leading", "status")

    other = PostgresLedger(url, fenced_by=LEADER_LOCK)
    assert not other.try_lock(LEADER_LOCK)  # one leader at a time
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid(leader),))
    # The lock goes with the backend, once it has exited.
    deadline = time.monotonic() + 10
    while not other.try_lock(LEADER_LOCK):
        assert time.monotonic() < deadline, "the lease outlived its session"

    # The first try finds the session gone; the next opens a new one, which holds no lease.
    with pytest.raises(LedgerUnavailable, match="terminating connection"), leader.transaction():
        leader.enqueue("finance", "written-after-deposed", "status")
    with pytest.raises(LedgerUnavailable, match="no longer the leader"), leader.transaction():
        leader.enqueue("finance", "written-after-deposed", "status")
    with other.transaction():
        other.enqueue("finance", "written-by-the-new-leader", "status")
    assert [row.message_id for row in other.outbox_batch(10)] == [
        "written-while-leading",
        "written-by-the-new-leader",
    ]
    leader.close()
    other.close()


async def test_a_router_whose_clock_is_off_is_not_ready(url: str) -> None:
    """§30/§37 stamps come from the router's clock: more than 1 s off the database's and it
    says so in /readyz until NTP fixes it."""

    async def nothing(_: object) -> None:
        return None

    def cluster(skew_s: float) -> SharedCluster:
        return SharedCluster(
            PostgresLedger(url, fenced_by=LEADER_LOCK),
            16,
            lambda: "digest",
            lambda: True,
            nothing,
            nothing,
            router_id=f"router-{skew_s}",
            now=lambda: time.time() + skew_s,
        )

    fast, right = cluster(5.0), cluster(0.0)
    await fast.tick()
    await right.tick()
    assert any("clock: +5." in problem for problem in fast.problems()), fast.problems()
    assert right.problems() == []
    assert {r.id: round(r.clock_skew_ms / 1000) for r in right.session.routers()} == {
        "router-0.0": 0,
        "router-5.0": 5,
    }
    for each in (fast, right):
        await each.stop()
        each.session.close()


async def test_committed_outbox_rows_wake_the_other_routers(url: str) -> None:
    """A row enqueued by one router wakes every router's publisher at commit, so the one that
    publishes to its destination does not wait for its next poll."""
    woken = asyncio.Event()
    writer = PostgresLedger(url)
    listening = asyncio.create_task(listen_for_outbox(url, woken.set))
    try:
        # The listener is subscribed once a NOTIFY sent now reaches it.
        async with asyncio.timeout(10):
            while not woken.is_set():
                writer.connection.execute(f"NOTIFY {OUTBOX_CHANNEL}")
                await asyncio.sleep(0.05)
        woken.clear()
        with contextlib.suppress(RuntimeError), writer.transaction():
            writer.enqueue("finance", "rolled-back", "status")
            raise RuntimeError("rolled back")
        with writer.transaction():
            writer.enqueue("finance", "committed", "status")
        await asyncio.wait_for(woken.wait(), 10)
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        writer.close()
