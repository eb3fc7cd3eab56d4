"""The contract of the outbox and the SMS outbox, whichever database keeps them."""

from __future__ import annotations

from docex.ledger.port import Ledger
from docex.ledger.records import OutboxRow

AT = "2026-03-02T10:00:00+08:00"


def fill(ledger: Ledger, messages: list[tuple[str, str]]) -> None:
    with ledger.transaction():
        for routing_key, message_id in messages:
            ledger.enqueue(routing_key, message_id, "status", body=message_id.encode())


def ids(rows: list[OutboxRow]) -> list[str]:
    return [row.message_id for row in rows]


def test_rows_read_back_as_enqueued(ledger: Ledger) -> None:
    with ledger.transaction():
        ledger.enqueue("finance", "m1", "status", body=b"\x00answer")
        ledger.enqueue("education", "m2", "deliver", doc_id="d1", recipient="education")
    first, second = ledger.outbox_batch(10)
    assert (first.routing_key, first.message_id, first.type, first.body) == (
        "finance",
        "m1",
        "status",
        b"\x00answer",
    )
    assert (first.doc_id, first.recipient) == (None, None)
    assert (second.type, second.body, second.doc_id, second.recipient) == (
        "deliver",
        None,
        "d1",
        "education",
    )
    assert first.seq < second.seq
    assert ledger.outbox_depth() == 2


def test_a_batch_takes_a_share_of_each_destination_in_its_order(ledger: Ledger) -> None:
    """Destinations take turns: a backlog for one unit takes its share of the batch, not all
    of it, and all of it when nobody else waits; each unit's messages leave in the order they
    were enqueued."""
    fill(ledger, [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"), ("a", "a4"), ("b", "b2")])
    assert ids(ledger.outbox_batch(4)) == ["a1", "a2", "b1", "b2"]
    assert ids(ledger.outbox_batch(3)) == ["a1", "a2", "b1"]
    assert ids(ledger.outbox_batch(2)) == ["a1", "b1"]
    assert ids(ledger.outbox_batch(10, held={"b"})) == ["a1", "a2", "a3", "a4"]
    assert ids(ledger.outbox_batch(10, held=["a", "b"])) == []


def test_removed_rows_leave_the_rest_in_order(ledger: Ledger) -> None:
    fill(ledger, [("a", "a1"), ("a", "a2"), ("b", "b1"), ("a", "a3")])
    batch = ledger.outbox_batch(10)
    with ledger.transaction():
        ledger.remove_from_outbox([batch[0].seq, batch[2].seq])
    assert ids(ledger.outbox_batch(10)) == ["a2", "a3"]
    assert ledger.outbox_depth() == 2


def test_a_row_set_aside_leaves_the_outbox_and_is_kept(ledger: Ledger) -> None:
    fill(ledger, [("a", "a1"), ("a", "a2")])
    with ledger.transaction():
        ledger.set_aside(ledger.outbox_batch(1)[0], "too_large", "frame too large", AT)
    assert ids(ledger.outbox_batch(10)) == ["a2"]
    assert (ledger.outbox_depth(), ledger.dead_outbox_rows()) == (1, 1)


def test_sms_wait_per_number_the_longest_waiting_first(ledger: Ledger) -> None:
    """§16: reminders wait for the gateway, each number's in the order they were queued."""
    with ledger.transaction():
        ledger.queue_sms("finance", "财政局", "13900000002", "请签收一", AT)
        ledger.queue_sms("education", "教育局", "13900000001", "请签收二", AT)
        ledger.queue_sms("finance", "财政局", "13900000002", "请签收三", AT)
    assert ledger.sms_numbers_waiting() == ["13900000002", "13900000001"]
    waiting = ledger.sms_waiting_for("13900000002")
    assert [(row.unit, row.name, row.mobile, row.text, row.created_at) for row in waiting] == [
        ("finance", "财政局", "13900000002", "请签收一", AT),
        ("finance", "财政局", "13900000002", "请签收三", AT),
    ]
    assert ledger.sms_depth() == 3


def test_a_text_gone_leaves_the_outbox_and_counts_against_its_number(ledger: Ledger) -> None:
    """§16: the hourly allowance counts texts sent to a number, each text once."""
    with ledger.transaction():
        for text in ("一", "二", "三"):
            ledger.queue_sms("finance", "财政局", "13900000002", text, AT)
        ledger.queue_sms("education", "教育局", "13900000001", "四", AT)
    first, second, third = ledger.sms_waiting_for("13900000002")
    with ledger.transaction():
        ledger.sms_gone("text-1", "13900000002", 1000.0, [first.seq, second.seq])
        # Told again (a publish confirmed twice): still one text, sent at its first time.
        ledger.sms_gone("text-1", "13900000002", 1200.0, [first.seq, second.seq])
    assert ledger.sms_waiting_for("13900000002") == [third]
    assert ledger.sms_depth() == 2
    assert ledger.sms_sent_since("13900000002", 999.0) == 1
    assert ledger.sms_sent_since("13900000002", 1000.0) == 0
    assert ledger.sms_sent_since("13900000001", 0.0) == 0
    with ledger.transaction():
        ledger.sms_gone("text-2", "13900000002", 1500.0, [third.seq])
    assert ledger.sms_sent_since("13900000002", 999.0) == 2
    assert ledger.sms_numbers_waiting() == ["13900000001"]
