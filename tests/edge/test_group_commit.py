"""The router's SQLite commits return before they are on disk and are made durable by one
fsync in a worker thread (docex/router/ledger_health.py): nothing may leave the router, and
no command may be acked, before the fsync of the commit that recorded it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from docex import wire
from docex.config import Config
from docex.ledger.sqlite import SqliteLedger
from docex.router.service import Router
from docex.unit.client import ExchangeTimeout, UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory
from tests.documents import sealed_envelope, submit

pytestmark = pytest.mark.sqlite_only


class HeldSync:
    """SqliteLedger.sync, held at a gate until the test opens it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.calls = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = SqliteLedger.sync

        def held(ledger: SqliteLedger) -> None:
            self.waiting.set()
            self.gate.wait(30)
            self.calls += 1
            real(ledger)

        monkeypatch.setattr(SqliteLedger, "sync", held)


@pytest.fixture
def held_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldSync]:
    held = HeldSync()
    held.install(monkeypatch)
    yield held
    held.gate.set()  # never leave a worker thread waiting


async def test_nothing_is_published_before_its_commit_is_on_disk(
    config: Config,
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    unit_client_for: UnitClientFactory,
    pki: Pki,
    held_sync: HeldSync,
) -> None:
    router = Router(config, clock, config_path=config_file)
    await router.start()
    try:
        async with unit_client_for("gov-office") as office, unit_client_for("finance") as finance:
            envelope = sealed_envelope(pki.signing["gov-office"])
            message_id = await office.send(submit(envelope))
            # The commit that accepted it is made; its fsync is held.
            await asyncio.wait_for(asyncio.to_thread(held_sync.waiting.wait, 10), 15)
            assert await _nothing_for(finance, 1.0)
            assert office.mailbox.answer_to(message_id) is None
            held_sync.gate.set()
            answer = await office.wait_for(lambda: office.mailbox.answer_to(message_id), 10)
            assert isinstance(answer, wire.Status) and answer.state == "accepted"
            await finance.wait_for(lambda: finance.mailbox.deliveries() or None, 10)
    finally:
        held_sync.gate.set()
        await router.stop(flush_timeout=2.0)
    assert held_sync.calls >= 1


async def _nothing_for(client: UnitClient, seconds: float) -> bool:
    """True when no message at all reaches the unit within `seconds`: proving an absence
    takes a wait."""
    try:
        await client.wait_for(lambda: client.mailbox.messages_after(0) or None, seconds)
    except ExchangeTimeout:
        return not client.mailbox.deliveries()
    return False
