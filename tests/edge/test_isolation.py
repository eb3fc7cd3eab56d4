"""No unit and no message can stall the others: a flooding unit, and outbox rows the broker
will never take."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aio_pika
import aiormq
import pytest

from docex import topology, wire
from docex.config import Config, load_config
from docex.ids import uuid7
from docex.ledger.records import OutboxRow
from docex.router.service import Router
from docex.topology import Names
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory, eventually
from tests.documents import sealed_envelope, submit
from tests.edge.test_operations import router_status

FLOOD = 5_000


def accepted(router: Router) -> float:
    return router.metrics.registry.get_sample_value("docex_documents_accepted_total") or 0.0


def add_unit(config_file: Path, unit_id: str, name: str) -> None:
    """A unit only the test reads (as the broker's admin), so no broker user is needed."""
    config_file.write_text(
        config_file.read_text()
        + f'\n[[units]]\nid = "{unit_id}"\nname = "{name}"\namqp_user = "nobody-{unit_id}"\n'
    )


async def first_deliver(config: Config, unit_id: str) -> tuple[wire.Deliver, float]:
    """The first delivery to reach a unit's queue, and when it arrived (time.monotonic)."""
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Names(config.router.prefix).unit_queue(unit_id))
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                for item in wire.unpack(message.message_id or "", message.type or "", message.body):
                    if item.type == "deliver":
                        decoded = wire.decode_router_message(item.body)
                        assert isinstance(decoded, wire.Deliver)
                        return decoded, time.monotonic()
    raise AssertionError("the queue iterator ended")


@pytest.mark.slow
async def test_a_flooding_unit_does_not_delay_another_units_document(
    pki: Pki,
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    unit_client_for: UnitClientFactory,
) -> None:
    """5,000 submits from one unit wait in the broker; another unit's document, sent
    meanwhile, is delivered at once: every unit's intake queue gets its turn."""
    add_unit(config_file, "health", "市卫生健康委")
    config = load_config(config_file)
    names = Names(config.router.prefix)
    admin = await aio_pika.connect(config.router.amqp_url)
    async with admin, contextlib.AsyncExitStack() as stack:
        await topology.declare(
            admin, names, [unit.id for unit in config.units], config.router.intake_limit
        )
        flooder = await stack.enter_async_context(unit_client_for("education"))
        for _ in range(FLOOD):
            envelope = sealed_envelope(pki.signing["education"], sender="education", to=["finance"])
            await flooder.send(submit(envelope))
        office = await stack.enter_async_context(unit_client_for("gov-office"))

        router = Router(config, clock, config_path=config_file)
        stack.push_async_callback(router.stop, 2.0)
        await router.start()
        arrival = asyncio.create_task(first_deliver(config, "health"))
        envelope = sealed_envelope(pki.signing["gov-office"], to=["health"])
        sent = time.monotonic()
        await office.send(submit(envelope))
        deliver, arrived = await asyncio.wait_for(arrival, 30)
        waited = arrived - sent
        backlog = FLOOD - (accepted(router) - 1)
        print(
            f"\nanother unit's document delivered {waited * 1000:.0f} ms after sending,"
            f" with {backlog:.0f} of the flood's {FLOOD} still to accept"
        )
        assert deliver.envelope.id == envelope.id
        assert backlog > FLOOD / 2, "the flood was mostly over: nothing was measured"
        assert waited < 5.0
        # Nothing of the flood is lost.
        await eventually(
            lambda: accepted(router) == FLOOD + 1, "the whole flood to be accepted", timeout=120
        )


async def test_a_unit_past_its_intake_limit_is_refused_and_no_one_else(
    config_file: Path, empty_queues: None
) -> None:
    """The broker nacks a unit's publishes once its intake queue holds `intake_limit`
    commands; other units' publishes are confirmed as ever. A changed limit applies to new
    units (sports is new to this run); existing intake queues are kept, not refused."""
    add_unit(config_file, "sports", "市体育局")
    config_file.write_text(
        config_file.read_text().replace("max_message_bytes", "intake_limit = 3\nmax_message_bytes")
    )
    config = load_config(config_file)
    names = Names(config.router.prefix)
    admin = await aio_pika.connect(config.router.amqp_url)
    async with admin:
        await topology.declare(
            admin, names, [unit.id for unit in config.units], config.router.intake_limit
        )
        channel = await admin.channel(publisher_confirms=True)
        sports = await channel.get_exchange(names.inbound("sports"), ensure=False)
        education = await channel.get_exchange(names.inbound("education"), ensure=False)
        # A quorum queue refuses once it is over its limit: it takes one more than the limit.
        for _ in range(3 + 1):
            await sports.publish(aio_pika.Message(b"x", message_id=uuid7()), routing_key="")
        with pytest.raises(aiormq.exceptions.DeliveryError, match="Nack"):
            await sports.publish(aio_pika.Message(b"x", message_id=uuid7()), routing_key="")
        for _ in range(5):
            await education.publish(aio_pika.Message(b"x", message_id=uuid7()), routing_key="")
        await channel.queue_delete(names.intake_queue("sports"))
        await channel.queue_delete(names.unit_queue("sports"))


def inject(router: Router, routing_key: str, message_id: str, body: bytes) -> None:
    """A row that got into the outbox some other way than through today's checks at the door
    (an older release, a bug): the publisher must cope with whatever is there."""
    with router.ledger.transaction():
        router.ledger.enqueue(routing_key, message_id, "status", body=body)
    router.outbox.wakeup.set()


def set_aside_rows(router: Router) -> list[tuple[str, str]]:
    return router.ledger._db.execute(
        "SELECT routing_key, reason FROM outbox_dead ORDER BY seq"
    ).fetchall()


async def documents_flow(units: dict[str, UnitClient], pki: Pki, count: int) -> float:
    """Send `count` documents to finance and wait until finance has them all; seconds taken."""
    started = time.monotonic()
    envelopes = [sealed_envelope(pki.signing["gov-office"], to=["finance"]) for _ in range(count)]
    for envelope in envelopes:
        await units["gov-office"].send(submit(envelope))
    ids = {envelope.id for envelope in envelopes}
    finance = units["finance"]
    await finance.wait_for(
        lambda: ids <= {d.deliver.envelope.id for d in finance.mailbox.deliveries()} or None,
        timeout=20,
    )
    return time.monotonic() - started


async def office_notice(units: dict[str, UnitClient], scope: str) -> wire.Notice:
    office = units["gov-office"]
    return await office.wait_for(
        lambda: next(
            (n for n in office.mailbox.notices() if n.kind == "undeliverable" and n.scope == scope),
            None,
        ),
        timeout=10,
    )


async def test_a_row_with_an_unsendable_property_is_set_aside_and_the_rest_flows(
    units: dict[str, UnitClient], pki: Pki, router: Router, config_file: Path
) -> None:
    """A message id AMQP cannot carry (over 255 bytes) used to hold the whole outbox in
    back-off; now that row alone is set aside, and the General Office is told (§46)."""
    status = wire.encode(wire.Status(state="accepted", at="2026-11-26T10:00:00+08:00"))
    inject(router, "education", "x" * 300, status)
    took = await documents_flow(units, pki, 20)
    print(f"\n20 documents delivered in {took * 1000:.0f} ms beside the poison row")

    await eventually(lambda: set_aside_rows(router), "the row to be set aside")
    assert set_aside_rows(router) == [("education", "invalid_property")]
    assert router.ledger.outbox_depth() == 0 or await eventually(
        lambda: router.ledger.outbox_depth() == 0, "the outbox to empty"
    )
    notice = await office_notice(units, "education")
    assert notice.fault == "invalid_property" and "无法投递" in notice.text
    sample = router.metrics.registry.get_sample_value(
        "docex_outbox_set_aside_total", {"reason": "invalid_property"}
    )
    assert sample == 1
    _, out = await router_status(config_file)
    assert "set aside: 1 messages the broker can never take" in out


async def test_a_message_over_the_brokers_limit_is_set_aside(
    units: dict[str, UnitClient], pki: Pki, router: Router, config: Config
) -> None:
    """A message the broker would refuse by closing the channel, under every other message in
    flight (a 140 MB print grant did that), never reaches it."""
    inject(router, "finance", uuid7(), bytes(config.router.max_message_bytes + 1))
    await documents_flow(units, pki, 5)
    await eventually(lambda: set_aside_rows(router), "the row to be set aside")
    assert set_aside_rows(router) == [("finance", "too_large")]
    assert (await office_notice(units, "finance")).fault == "too_large"


async def test_a_deleted_unit_queue_is_declared_again_and_the_document_delivered(
    units: dict[str, UnitClient], pki: Pki, router: Router, config: Config
) -> None:
    """An operator deleted a unit's queue by mistake: the broker returns what the router
    publishes to it; the router declares the queue again and delivers."""
    names = Names(config.router.prefix)
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(names.unit_queue("education"))
    envelope = sealed_envelope(pki.signing["gov-office"], to=["education"])
    await units["gov-office"].send(submit(envelope))
    await eventually(
        lambda: (
            getattr(router.ledger.delivery(envelope.id, "education"), "state", "") == "delivered"
        ),
        "the broker to confirm the delivery",
    )
    deliver, _ = await asyncio.wait_for(first_deliver(config, "education"), 20)
    assert deliver.envelope.id == envelope.id
    assert set_aside_rows(router) == []


async def test_a_row_for_no_unit_is_set_aside_as_unroutable(
    units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    status = wire.encode(wire.Status(state="accepted", at="2026-11-26T10:00:00+08:00"))
    inject(router, "no-such-unit", uuid7(), status)
    await documents_flow(units, pki, 5)
    await eventually(lambda: set_aside_rows(router), "the row to be set aside")
    assert set_aside_rows(router) == [("no-such-unit", "unroutable")]


async def test_a_set_aside_delivery_is_reported_to_its_sender(
    units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    """The sender learns its document could not be handed over; the delivery stays queued,
    so a resend or the paper fallback (§47) can still take it."""
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted"
    row = OutboxRow(0, "finance", "m" * 300, "deliver", None, envelope.id, "finance")
    with router.ledger.transaction():
        router.handler.set_aside(row, "invalid_property", "message_id is over 255 bytes")
    router.outbox.wakeup.set()
    office = units["gov-office"]
    news = await office.wait_for(
        lambda: next((s for s in office.mailbox.statuses() if s.state == "undeliverable"), None),
        timeout=10,
    )
    assert (news.recipient, news.reason) == ("finance", "invalid_property")
