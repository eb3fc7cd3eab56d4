"""How the ledger stays quick as it grows: checkpoints off the event loop, indexes and counts
that spare the periodic checks and the metrics scrape from reading every delivery."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from docex.ledger.checkpoint import Checkpointer
from docex.ledger.sqlite import SqliteLedger
from docex.router.ledger_health import LedgerHealth
from tests.conftest import eventually

PAGES = 1500  # past SQLite's own checkpoint threshold of 1,000 pages


def fill(ledger: SqliteLedger) -> None:
    with ledger.transaction():
        for number in range(PAGES):
            ledger.enqueue("finance", f"m{number}", "status", body=os.urandom(4000))


@contextlib.asynccontextmanager
async def checkpointing(checkpointer: Checkpointer) -> AsyncIterator[None]:
    """The checkpointer runs while the context lasts; stopped and closed as the router does."""
    running = asyncio.create_task(checkpointer.run())
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        checkpointer.close()


async def commit_row(ledger: SqliteLedger, health: LedgerHealth, number: int) -> None:
    """One intake-like commit, then the loop goes round, as between the router's batches."""
    await health.commit(
        "intake",
        functools.partial(ledger.enqueue, "finance", f"m{number}", "status", os.urandom(4000)),
        durable=False,
    )
    await asyncio.sleep(0)


async def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    """The write-ahead log is copied into the ledger off the event loop (docex/ledger/checkpoint.py)
    and only there: a commit never pays for a checkpoint."""
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path, checkpoints=False)
    fill(ledger)
    fill(ledger)
    # Without the checkpointer the data stays in the log, however long it grows.
    assert path.stat().st_size < 1024 * 1024
    assert Path(f"{path}-wal").stat().st_size > 2 * PAGES * 4000

    async with checkpointing(Checkpointer(path, interval_s=0.01)):
        await eventually(
            lambda: path.stat().st_size > 2 * PAGES * 4000, "the log copied into the ledger"
        )
    assert ledger.outbox_depth() == 2 * PAGES
    ledger.close()


def health_of(ledger: SqliteLedger) -> LedgerHealth:
    retries = Counter("retries", "", ["writer", "reason"], registry=CollectorRegistry())
    return LedgerHealth(ledger, retries, ledger.sync)


async def test_a_steady_load_does_not_grow_the_log_without_end(tmp_path: Path) -> None:
    """SQLite starts its log over only at a commit that finds all of it copied, and with
    commits that never pause no checkpoint got to its end: the log grew by 1.8 GB in 30 s at
    500 documents/s. Past its limit, the checkpointer holds the writers for its last pass."""
    path = tmp_path / "ledger.sqlite"
    log = Path(f"{path}-wal")
    ledger = SqliteLedger(path, checkpoints=False, syncs_commits=False)
    health = health_of(ledger)
    checkpointer = Checkpointer(
        path, interval_s=0.01, hold_writes=health.writes_held, log_limit_bytes=256 * 1024
    )
    largest = commits = 0
    async with checkpointing(checkpointer):
        # About 50 MB through the log, as one stream of commits that never pauses.
        while commits < 3000:
            await commit_row(ledger, health, commits)
            commits += 1
            largest = max(largest, log.stat().st_size)
    # The log's header counts the times it was started over (sqlite.org/fileformat.html).
    started_over = int.from_bytes(log.read_bytes()[12:16], "big")
    assert started_over >= 3
    assert largest < 32 * 1024 * 1024, f"the log reached {largest} bytes"
    assert ledger.outbox_depth() == commits
    ledger.close()


async def test_a_transaction_that_keeps_the_log_is_reported(tmp_path: Path) -> None:
    """An open transaction elsewhere (a sqlite3 shell after BEGIN) keeps the log from starting
    over, and it grows by all that is committed: said once in the log, shown as
    docex_ledger_log_bytes, and the log starts over once that transaction ends."""
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path, checkpoints=False, syncs_commits=False)
    health = health_of(ledger)
    limit = 256 * 1024
    checkpointer = Checkpointer(
        path, interval_s=0.01, hold_writes=health.writes_held, log_limit_bytes=limit
    )
    shell = sqlite3.connect(path, isolation_level=None)
    shell.execute("BEGIN")
    shell.execute("SELECT count(*) FROM outbox").fetchone()
    commits = 0

    async def commit_until(event: str) -> None:
        nonlocal commits
        for _ in range(20_000):
            if any(entry["event"] == event for entry in logs):
                return
            await commit_row(ledger, health, commits)
            commits += 1
        pytest.fail(f"no {event} after {commits} commits")

    try:
        async with checkpointing(checkpointer):
            with capture_logs() as logs:
                await commit_until("ledger_log_not_started_over")
                assert checkpointer.log_bytes >= limit
                shell.execute("COMMIT")
                await commit_until("ledger_log_started_over")
    finally:
        shell.close()
    events = [entry["event"] for entry in logs]
    assert events.count("ledger_log_not_started_over") == 1, events
    assert ledger.outbox_depth() == commits
    ledger.close()


async def test_held_writers_wait_and_then_commit(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite", checkpoints=False, syncs_commits=False)
    health = health_of(ledger)
    async with health.writes_held():
        writing = asyncio.create_task(
            health.commit("intake", lambda: ledger.enqueue("finance", "m1", "status", b"x"))
        )
        done, _ = await asyncio.wait({writing}, timeout=0.3)
        assert not done
        assert ledger.outbox_depth() == 0
    await asyncio.wait_for(writing, 5)
    assert ledger.outbox_depth() == 1
    ledger.close()


def another_process(path: Path, sql: str) -> list[tuple[object, ...]]:
    """`sql` in a process of its own, which then closes the ledger as a `docex` command does."""
    script = (
        "import json, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "rows = db.execute(sys.argv[2]).fetchall()\n"
        "db.close()\n"
        "print(json.dumps(rows))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), sql], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return [tuple(row) for row in json.loads(done.stdout)]


async def test_checkpoints_leave_the_routers_hold_on_the_ledger(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it. When
    the checkpointer synced the database file through a descriptor of its own, the router's
    connection lost its locks: a `docex users` command that then closed the ledger took itself
    for the last one and removed the log, and the router's later commits went unseen."""
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path, checkpoints=False)
    fill(ledger)
    async with checkpointing(Checkpointer(path, interval_s=0.01)):
        await eventually(
            lambda: path.stat().st_size > PAGES * 4000, "the log copied into the ledger"
        )
    another_process(path, "INSERT INTO liveness (id, at) VALUES (1, 'then') ON CONFLICT DO NOTHING")
    with ledger.transaction():
        ledger.enqueue("finance", "after", "status", body=b"x")
    assert another_process(path, "SELECT count(*) FROM outbox") == [(PAGES + 1,)]
    ledger.close()


async def test_stopping_mid_checkpoint_does_not_crash(tmp_path: Path) -> None:
    """A checkpoint goes on in its worker thread after its task is cancelled, as the router
    stops; closing the connection under it crashed the process (a segfault)."""
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path, checkpoints=False)
    for _ in range(20):
        with ledger.transaction():
            for number in range(300):
                ledger.enqueue("finance", f"m{number}", "status", body=os.urandom(4000))
        checkpointer = Checkpointer(path, interval_s=0)
        running = asyncio.create_task(checkpointer.run())
        # Into the worker thread, and cancelled while it checkpoints.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        checkpointer.close()
    assert ledger.outbox_depth() == 20 * 300
    ledger.close()


def test_a_ledger_from_before_the_state_counts_is_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    SqliteLedger(path).close()
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("DROP TRIGGER delivery_state_added")
    old.execute("DROP TRIGGER delivery_state_changed")
    old.execute("DROP TABLE delivery_states")
    old.execute("PRAGMA foreign_keys=OFF")
    # As the ledgers from before schema versions were recorded.
    old.execute("ALTER TABLE notices DROP COLUMN pdf")
    old.execute("DROP INDEX commands_by_document")
    old.execute("ALTER TABLE commands DROP COLUMN doc_id")
    for table in ("audit_events", "audit_chain", "audit_checkpoints"):
        old.execute(f"DROP TABLE {table}")
    old.execute("ALTER TABLE contents DROP COLUMN pruned_at")
    old.execute("ALTER TABLE commands DROP COLUMN person")
    old.execute("DROP TABLE persons")
    old.execute("DROP TABLE person_credentials")
    old.execute("DROP TABLE arrangements")
    old.execute("ALTER TABLE deliveries DROP COLUMN sent_arrangement")
    old.execute("ALTER TABLE deliveries DROP COLUMN received_arrangement")
    old.execute("PRAGMA user_version = 0")
    old.executemany(
        "INSERT INTO deliveries (doc_id, recipient, role, print_quota, state)"
        " VALUES (?, 'finance', 'main', 1, ?)",
        [("a", "received"), ("b", "delivered"), ("c", "received")],
    )
    old.close()

    ledger = SqliteLedger(path)
    assert ledger.deliveries_by_state() == [("delivered", 1), ("received", 2)]
    ledger.close()
    assert SqliteLedger(path).deliveries_by_state() == [("delivered", 1), ("received", 2)]


def test_the_periodic_queries_read_only_what_waits_for_a_receipt(tmp_path: Path) -> None:
    """The link watch asks after each unit every 15 s and every metrics scrape counts what each
    unit has yet to take in: neither may read every delivery, nor the deliveries withdrawn,
    returned or sent on paper, which are never received and so pile up with the years."""
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path)
    asked: list[str] = []
    # The statements as run, parameters bound in.
    ledger.connection._db.set_trace_callback(asked.append)
    ledger.pending_receipts()
    ledger.oldest_untaken("x", None)
    ledger.pending_for("x")
    ledger.connection._db.set_trace_callback(None)
    assert len(asked) == 3
    db = sqlite3.connect(path)
    for query in asked:
        plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert "USING INDEX deliveries_untaken" in plan or "deliveries_waiting" in plan, (
            query,
            plan,
        )
    for settled in ("withdrawn", "returned", "paper"):
        with pytest.raises(sqlite3.OperationalError, match="no query solution"):
            db.execute(
                "SELECT count(*) FROM deliveries INDEXED BY deliveries_untaken"
                f" WHERE received_at IS NULL AND state = '{settled}'"
            )
    db.close()
    ledger.close()
