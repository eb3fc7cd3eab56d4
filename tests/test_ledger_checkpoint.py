"""The ledger's write-ahead log is copied into the database file off the event loop
(router/checkpoint.py), and only there: a commit never pays for a checkpoint."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from router.checkpoint import Checkpointer
from router.ledger import Ledger
from tests.conftest import eventually

PAGES = 1500  # past SQLite's own checkpoint threshold of 1,000 pages


def fill(ledger: Ledger) -> None:
    with ledger.transaction():
        for number in range(PAGES):
            ledger.enqueue("finance", f"m{number}", "status", body=os.urandom(4000))


async def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path, checkpoints=False)
    fill(ledger)
    fill(ledger)
    # Without the checkpointer the data stays in the log, however long it grows.
    assert path.stat().st_size < 1024 * 1024
    assert Path(f"{path}-wal").stat().st_size > 2 * PAGES * 4000

    checkpointer = asyncio.create_task(Checkpointer(path, interval_s=0.01).run())
    try:
        await eventually(
            lambda: path.stat().st_size > 2 * PAGES * 4000, "the log copied into the ledger"
        )
    finally:
        checkpointer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checkpointer
    assert ledger.outbox_depth() == 2 * PAGES
    ledger.close()
