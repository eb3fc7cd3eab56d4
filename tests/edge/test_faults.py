"""Crashes and broker restarts in the middle of traffic: nothing is lost, nothing shows twice.

The broker these tests restart is a private node (tests/brokers.py): the machine's RabbitMQ
serves other people's runs at the same time and is never stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import aio_pika
import pytest

from docex import wire
from docex.config import Config, load_config
from docex.ids import uuid7
from docex.ledger.sqlite import SqliteLedger
from docex.router.service import Router
from docex.topology import Names
from docex.unit.client import UnitClient
from tests.brokers import PrivateRabbit
from tests.conftest import (
    Broker,
    FakeClock,
    Pki,
    UnitClientFactory,
    private_broker,
    provision_units,
)
from tests.documents import sealed_envelope, submit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def broker(private_rabbit: PrivateRabbit) -> Broker:
    return private_broker(private_rabbit)


@pytest.fixture(scope="module")
def broker_users(
    broker: Broker, prefix: str, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The units' accounts on the private node; they go when the node goes."""
    directory = tmp_path_factory.mktemp("broker")
    provision_units(broker, prefix, pki, directory)
    return directory / "passwords"


class Inbox:
    """Counts every copy the broker hands a recipient, before any deduplication."""

    def __init__(self, expected: int) -> None:
        self.copies: dict[str, list[str]] = defaultdict(list)
        self.milestones: dict[int, asyncio.Event] = {}
        self.complete = self.reached(expected)

    def reached(self, documents: int) -> asyncio.Event:
        """Set once this many distinct documents have arrived."""
        return self.milestones.setdefault(documents, asyncio.Event())

    async def take(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        # What is due together comes as one batch, each item under its own message id; the
        # recipient is also told of faults that end (§46), which are not documents.
        for item in wire.unpack(message.message_id or "", message.type or "", message.body):
            deliver = wire.decode_router_message(item.body)
            if isinstance(deliver, wire.Deliver):
                self.copies[deliver.envelope.id].append(item.message_id)
        await message.ack()
        for documents, event in self.milestones.items():
            if len(self.copies) >= documents:
                event.set()


async def watch_queue(config: Config, unit: str, inbox: Inbox) -> aio_pika.abc.AbstractConnection:
    connection = await aio_pika.connect_robust(config.router.amqp_url, reconnect_interval=1.0)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=200)
    queue = await channel.get_queue(Names(config.router.prefix).unit_queue(unit))
    await queue.consume(inbox.take)
    return connection


def start_router(config_file: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "docex.cli", "router", "run", "--config", str(config_file)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def until(event: asyncio.Event, what: str, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


async def test_kill_9_with_1000_documents_in_flight_loses_and_repeats_nothing(
    empty_queues: None,
    config: Config,
    config_file: Path,
    pki: Pki,
    tmp_path: Path,
    unit_client_for: UnitClientFactory,
) -> None:
    """A router killed mid-stream and restarted delivers every document, each once by id."""
    count = 1000
    documents = [sealed_envelope(pki.signing["gov-office"]) for _ in range(count)]
    inbox = Inbox(count)
    fifth = inbox.reached(count // 5)
    watcher = await watch_queue(config, "finance", inbox)
    router = start_router(config_file, tmp_path / "router.log")
    try:
        async with unit_client_for("gov-office") as sender:
            await asyncio.gather(
                *(sender.publish(submit(envelope), uuid7()) for envelope in documents)
            )
            await until(fifth, "the first fifth of the deliveries", 60)
            os.kill(router.pid, signal.SIGKILL)
            router.wait()
            delivered_before_kill = len(inbox.copies)
            router = start_router(config_file, tmp_path / "router.log")
            await until(inbox.complete, f"all {count} deliveries", 120)
    finally:
        router.send_signal(signal.SIGTERM)
        router.wait(timeout=30)
        await watcher.close()

    assert delivered_before_kill < count, "the kill came after everything was delivered"
    assert set(inbox.copies) == {envelope.id for envelope in documents}
    for doc_id, message_ids in inbox.copies.items():
        assert len(set(message_ids)) == 1, f"{doc_id} was delivered as different messages"
    ledger = SqliteLedger(Path(config.router.ledger))
    try:
        assert ledger.outbox_depth() == 0
        states = {ledger.delivery(envelope.id, "finance").state for envelope in documents}  # type: ignore[union-attr]
        assert states == {"delivered"}
    finally:
        ledger.close()


async def test_broker_restart_mid_stream_loses_nothing(
    units: dict[str, UnitClient], pki: Pki, config: Config, private_rabbit: PrivateRabbit
) -> None:
    """The router reconnects by itself after RabbitMQ restarts, and every document arrives."""
    count = 300
    documents = [sealed_envelope(pki.signing["gov-office"]) for _ in range(count)]
    inbox = Inbox(count)
    watcher = await watch_queue(config, "finance", inbox)
    sender = units["gov-office"]

    async def send(envelope: wire.Envelope) -> None:
        message_id = uuid7()
        async with asyncio.timeout(120):
            while True:
                try:
                    await sender.publish(submit(envelope), message_id)
                    return
                except Exception:
                    await asyncio.sleep(0.5)  # the broker is away: retry with the same id

    try:
        await asyncio.gather(*(send(envelope) for envelope in documents[: count // 2]))
        # The router runs in this event loop: the restart must not block it.
        await asyncio.to_thread(private_rabbit.restart, 0)
        await asyncio.gather(*(send(envelope) for envelope in documents[count // 2 :]))
        print("all sent; received so far:", len(inbox.copies))
        await until(inbox.complete, f"all {count} deliveries after the restart", 90)
    finally:
        await watcher.close()
    assert set(inbox.copies) == {envelope.id for envelope in documents}
    for message_ids in inbox.copies.values():
        assert len(set(message_ids)) == 1


async def test_broker_stopped_is_an_exchange_fault_that_clears_itself(
    empty_queues: None,
    config_file: Path,
    clock: FakeClock,
    pki: Pki,
    unit_client_for: UnitClientFactory,
    private_rabbit: PrivateRabbit,
) -> None:
    """§46: RabbitMQ stopped for a while is a fault of the exchange itself: the router stays up,
    says it is not ready, records the fault and tells the General Office; when RabbitMQ is back
    the fault ends by itself, and every document arrives exactly once."""
    config_file.write_text(
        config_file.read_text().replace("check_interval_s = 3600", "check_interval_s = 0.2")
    )
    config = load_config(config_file)
    count = 100
    documents = [sealed_envelope(pki.signing["gov-office"]) for _ in range(count)]
    inbox = Inbox(count)
    router = Router(config, clock, config_file)
    await router.start()
    watcher = await watch_queue(config, "finance", inbox)
    try:
        async with unit_client_for("gov-office") as office:
            await asyncio.gather(*(publish(office, e) for e in documents[: count // 2]))
            await until(inbox.reached(count // 2), "the first half", 30)
            await asyncio.to_thread(private_rabbit.stop, 0)
            try:
                # Sent while the broker is away: the client retries until it is back.
                sending = asyncio.gather(*(publish(office, e) for e in documents[count // 2 :]))
                await poll(lambda: router.ledger.open_fault("*") is not None, "an exchange fault")
                assert "broker: not connected" in router.not_ready()
                await asyncio.sleep(3)
                assert router.supervisor.problems() == []
                assert [f.scope for f in router.ledger.faults()] == ["*"]
            finally:
                await asyncio.to_thread(private_rabbit.start_node, 0)
            await poll(lambda: router.ledger.open_faults() == [], "the fault to end", 60)
            await poll(lambda: router.not_ready() == [], "the router to be ready", 60)
            await sending
            await until(inbox.complete, f"all {count} deliveries", 60)
            notices = await office.wait_for(
                lambda: office.mailbox.notices() if len(office.mailbox.notices()) >= 2 else None,
                timeout=30,
            )
    finally:
        await watcher.close()
        await router.stop(flush_timeout=2)
    assert [(n.kind, n.scope, n.fault) for n in notices] == [
        ("fault", "*", "broker_unreachable"),
        ("recovered", "*", "broker_unreachable"),
    ]
    assert set(inbox.copies) == {envelope.id for envelope in documents}
    assert all(len(set(message_ids)) == 1 for message_ids in inbox.copies.values())


async def publish(sender: UnitClient, envelope: wire.Envelope) -> None:
    """Publish, retrying with the same id while the broker is away or the client reconnects."""
    message_id = uuid7()
    async with asyncio.timeout(120):
        while True:
            try:
                await sender.publish(submit(envelope), message_id)
                return
            except Exception:
                await asyncio.sleep(0.5)


async def poll(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
