"""Answers due to one unit together travel as one `batch` message (docex/router/outbox.py),
and units read them as if each had come alone."""

from __future__ import annotations

from pathlib import Path

import aio_pika
import msgspec

from docex import wire
from docex.config import Config
from docex.router.service import Router
from docex.topology import Names
from tests.conftest import FakeClock, UnitClientFactory
from tests.edge.test_mqtt_bridge import BridgeFor, OfficeOf, bridge_for, office_of

__all__ = ["bridge_for", "office_of"]  # fixtures, used by name

COUNT = 12


def notice(number: int) -> wire.Notice:
    return wire.Notice(
        kind="undeliverable",
        fault_id=number,
        scope="finance",
        fault="too_large",
        started_at="2026-11-30T10:00:00+08:00",
        at="2026-11-30T10:00:00+08:00",
        text=f"notice {number}",
    )


def told_before_start(config: Config, config_file: Path, clock: FakeClock) -> Router:
    """A router with COUNT notices for finance already in its outbox when it starts, so its
    first publishing pass finds them all due together."""
    router = Router(config, clock, config_path=config_file)
    with router.ledger.transaction():
        for number in range(COUNT):
            router.handler.tell("finance", notice(number))
    return router


def with_router_settings(config: Config, **changes: object) -> Config:
    return msgspec.structs.replace(config, router=msgspec.structs.replace(config.router, **changes))


async def published_to_finance(
    router: Router, config: Config, count: int
) -> list[aio_pika.IncomingMessage]:
    """Runs the router until finance's queue has had `count` messages' worth, read past any
    client; stopping waits for the outbox to empty, so what was published is also recorded."""
    await router.start()
    try:
        return await raw_messages(config, "finance", count)
    finally:
        await router.stop(flush_timeout=2.0)


async def raw_messages(config: Config, unit: str, count: int) -> list[aio_pika.IncomingMessage]:
    """What reaches the unit's queue, read past any client, until `count` notices came."""
    connection = await aio_pika.connect(config.router.amqp_url)
    taken: list[aio_pika.IncomingMessage] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Names(config.router.prefix).unit_queue(unit))
        carried = 0
        async with queue.iterator(timeout=10) as messages:
            async for message in messages:
                await message.ack()
                taken.append(message)
                carried += len(
                    wire.unpack(message.message_id or "", message.type or "", message.body)
                )
                if carried >= count:
                    break
    return taken


async def test_answers_due_together_go_as_one_batch_in_order(
    config: Config, config_file: Path, clock: FakeClock, empty_queues: None
) -> None:
    router = told_before_start(config, config_file, clock)
    outbox = {row.message_id for row in router.ledger.outbox_batch(100)}
    messages = await published_to_finance(router, config, COUNT)
    assert [message.type for message in messages] == ["batch"]
    items = wire.unpack(messages[0].message_id or "", "batch", messages[0].body)
    # Each keeps the message id it has in the ledger, for the unit's deduplication.
    assert {item.message_id for item in items} == outbox
    decoded = [wire.decode_router_message(item.body) for item in items]
    assert [n.fault_id for n in decoded if isinstance(n, wire.Notice)] == list(range(COUNT))
    assert router.metrics.answers_batched._value.get() == COUNT


async def test_without_batches_each_answer_goes_alone(
    config: Config, config_file: Path, clock: FakeClock, empty_queues: None
) -> None:
    """`[router] batch_answers = false`, for units whose system reads its queue with a client
    from before batches."""
    config = with_router_settings(config, batch_answers=False)
    router = told_before_start(config, config_file, clock)
    messages = await published_to_finance(router, config, COUNT)
    assert [message.type for message in messages] == ["notice"] * COUNT


async def test_a_unit_client_files_each_answer_of_a_batch_once_in_order(
    config: Config,
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    unit_client_for: UnitClientFactory,
) -> None:
    router = told_before_start(config, config_file, clock)
    await router.start()
    try:
        async with unit_client_for("finance") as finance:

            def filed() -> list[tuple[int, str, bytes]] | None:
                found = finance.mailbox.messages_after(0)
                return found if len(found) >= COUNT else None

            messages = await finance.wait_for(filed, timeout=10)
    finally:
        await router.stop(flush_timeout=2.0)
    assert [type_ for _, type_, _ in messages] == ["notice"] * COUNT
    numbers = [msgspec.msgpack.decode(body, type=wire.Notice).fault_id for _, _, body in messages]
    assert numbers == list(range(COUNT))


async def test_the_mqtt_bridge_passes_a_batch_on_as_its_messages(
    router: Router, bridge_for: BridgeFor, office_of: OfficeOf, prefix: str
) -> None:
    """An office system on MQTT gets each message of a batch on its own topic, under its own
    message id, in order, as if the router had published them one by one."""
    async with office_of("finance") as office, bridge_for("finance"):
        # One transaction: the next publishing pass finds all of them due together.
        with router.ledger.transaction():
            for number in range(COUNT):
                router.handler.tell("finance", notice(number))
        outbox = [row.message_id for row in router.ledger.outbox_batch(100)]
        router.outbox.wakeup.set()
        received = await office.until(lambda got: got if len(got) >= COUNT else None)
    assert router.metrics.answers_batched._value.get() == COUNT
    assert [r.topic for r in received] == [f"{prefix}/finance/in/notice"] * COUNT
    assert [r.message_id for r in received] == outbox
    assert [r.message.fault_id for r in received if isinstance(r.message, wire.Notice)] == list(
        range(COUNT)
    )
