"""Documents due to one unit together travel as one `batch` message (docex/router/outbox.py),
each still sealed and under its own message id, and the unit files each as if it had come
alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from docex import wire
from docex.config import Config
from docex.ids import uuid7
from docex.ledger.open import open_ledger
from docex.router.handler import Inbound, Verdict
from docex.router.service import Router
from tests.conftest import FakeClock, Pki, UnitClientFactory, amqp_user
from tests.documents import sealed_envelope, submit
from tests.edge.test_answer_batches import published_to_finance, with_router_settings

COUNT = 8

SentBeforeStart = Callable[[Config], tuple[Router, list[str]]]


@pytest.fixture
def sent_before_start(
    config_file: Path, clock: FakeClock, pki: Pki, prefix: str, empty_queues: None
) -> SentBeforeStart:
    """A router whose ledger accepted COUNT documents to finance before it started (as after
    a broker outage), so its first publishing pass finds their deliveries due together; and
    the documents' ids, in sending order."""

    def make(config: Config) -> tuple[Router, list[str]]:
        router = Router(config, clock, config_path=config_file)
        envelopes = [
            sealed_envelope(pki.signing["gov-office"], title=f"通知{n}", now=clock.now())
            for n in range(COUNT)
        ]
        commands = [
            Inbound(uuid7(), amqp_user(prefix, "gov-office"), wire.encode(submit(envelope)))
            for envelope in envelopes
        ]
        assert router.handler.handle_batch(commands) == [Verdict.ACK] * COUNT
        return router, [envelope.id for envelope in envelopes]

    return make


def delivered_ids(messages: list[wire.Batched]) -> list[str]:
    decoded = [wire.decode_router_message(item.body) for item in messages]
    return [d.envelope.id for d in decoded if isinstance(d, wire.Deliver)]


async def test_deliveries_due_together_go_as_one_batch_each_under_its_own_id(
    config: Config, sent_before_start: SentBeforeStart
) -> None:
    router, doc_ids = sent_before_start(config)
    outbox = {row.message_id for row in router.ledger.outbox_batch(100) if row.type == "deliver"}
    messages = await published_to_finance(router, config, COUNT)
    assert [message.type for message in messages] == ["batch"]
    items = wire.unpack(messages[0].message_id or "", "batch", messages[0].body)
    assert [item.type for item in items] == ["deliver"] * COUNT
    # The ids the ledger gave each delivery, for the unit's deduplication, in sending order.
    assert {item.message_id for item in items} == outbox
    assert delivered_ids(items) == doc_ids
    assert router.metrics.deliveries_batched._value.get() == COUNT
    # The broker confirmed the batch: each delivery is recorded as delivered.
    ledger = open_ledger(config.router.ledger)
    try:
        delivered = [ledger.delivery(doc_id, "finance") for doc_id in doc_ids]
    finally:
        ledger.close()
    assert all(d is not None and d.delivered_at for d in delivered)


async def test_without_batches_each_delivery_goes_alone(
    config: Config, sent_before_start: SentBeforeStart
) -> None:
    """`[router] batch_answers = false`, for a unit whose system reads its queue with a client
    from before batches: deliveries are not batched either."""
    config = with_router_settings(config, batch_answers=False)
    router, _ = sent_before_start(config)
    messages = await published_to_finance(router, config, COUNT)
    assert [message.type for message in messages] == ["deliver"] * COUNT


async def test_a_unit_client_files_each_document_of_a_batch_with_its_seal_checked(
    config: Config, sent_before_start: SentBeforeStart, unit_client_for: UnitClientFactory
) -> None:
    router, doc_ids = sent_before_start(config)
    await router.start()
    try:
        async with unit_client_for("finance") as finance:

            def filed() -> list[str] | None:
                found = finance.mailbox.deliveries()
                return [d.seal_error for d in found] if len(found) >= COUNT else None

            seal_errors = await finance.wait_for(filed, timeout=10)
            ids = [d.deliver.envelope.id for d in finance.mailbox.deliveries()]
    finally:
        await router.stop(flush_timeout=2.0)
    assert ids == doc_ids
    assert seal_errors == [""] * COUNT


async def test_batches_stay_under_the_brokers_message_limit(
    config: Config, sent_before_start: SentBeforeStart
) -> None:
    """A broker that takes smaller messages than a batch may hold (`max_message_bytes`) gets
    smaller batches, not a refused batch and every document alone after it."""
    limit = 8 * 1024
    config = with_router_settings(config, max_message_bytes=limit)
    router, doc_ids = sent_before_start(config)
    messages = await published_to_finance(router, config, COUNT)
    assert all(len(message.body) <= limit for message in messages)
    assert 1 < len(messages) < COUNT
    assert {message.type for message in messages} == {"batch"}
    items = [
        item
        for message in messages
        for item in wire.unpack(message.message_id or "", "batch", message.body)
    ]
    assert delivered_ids(items) == doc_ids
