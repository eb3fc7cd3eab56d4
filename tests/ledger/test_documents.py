"""The contract of commands, documents and deliveries, whichever database keeps them."""

from __future__ import annotations

import pytest

from docex.ledger.port import Ledger
from docex.ledger.records import Delivery
from tests.ledger.stored import add_document, stored_document

DELIVERED = "2026-03-02T10:00:00+08:00"


def test_a_command_is_recorded_once_per_unit_and_id(ledger: Ledger) -> None:
    """A redelivered command is recognised by its unit and id; another unit may use the id."""
    with ledger.transaction():
        assert not ledger.command_seen("finance", "c1")
        ledger.record_command("c1", "finance", "submit", DELIVERED, "accepted")
        ledger.record_command("c1", "education", "submit", DELIVERED, "rejected", "too_large")
    assert ledger.command_seen("finance", "c1")
    assert ledger.command_seen("education", "c1")
    assert not ledger.command_seen("archive", "c1")
    # Each database refuses with an error of its own.
    with pytest.raises(Exception), ledger.transaction():  # noqa: B017
        ledger.record_command("c1", "finance", "submit", DELIVERED, "accepted")


def test_documents_and_their_content_read_back_as_stored(ledger: Ledger) -> None:
    with ledger.transaction():
        first = add_document(ledger, "d1", [])
        # The same content in a second document is kept once, and refused by nobody.
        second = add_document(ledger, "d2", [])
    assert ledger.document("d1") == first
    assert ledger.document("d2") == second
    assert ledger.content(first.sha256) == b"%PDF-1.7 body"
    assert ledger.document("d3") is None


def test_a_document_id_is_stored_once(ledger: Ledger) -> None:
    with ledger.transaction():
        add_document(ledger, "d1", [])
    with pytest.raises(Exception), ledger.transaction():  # noqa: B017
        ledger.insert_document(stored_document("d1", b"other"), b"other", "cmd-again")
    assert ledger.document("d1") == stored_document("d1")


def test_a_new_delivery_is_queued_with_nothing_printed(ledger: Ledger) -> None:
    with ledger.transaction():
        add_document(ledger, "d1", ["finance", "education"])
        ledger.insert_delivery("d1", "archive", "copy", 0)
    queued = Delivery("d1", "education", "main", 2, 0, "queued", 1, None, None, None, None)
    assert ledger.delivery("d1", "education") == queued
    assert [(d.recipient, d.role) for d in ledger.deliveries("d1")] == [
        ("finance", "main"),
        ("education", "main"),
        ("archive", "copy"),
    ]
    assert ledger.delivery("d1", "nobody") is None
    assert ledger.deliveries("d2") == []


def test_receipt_time_is_set_once(ledger: Ledger) -> None:
    """§37: the first receipt sets the time of receipt; later ones change nothing."""
    with ledger.transaction():
        add_document(ledger, "d1", ["education"])
        ledger.mark_delivered("d1", "education", DELIVERED)
        first = ledger.mark_received("d1", "education", "2026-03-02T11:00:00+08:00", "2026-03-02")
        again = ledger.mark_received("d1", "education", "2026-03-03T09:00:00+08:00", "2026-03-03")
    assert (first, again) == (True, False)
    delivery = ledger.delivery("d1", "education")
    assert delivery is not None
    assert (delivery.state, delivery.received_at, delivery.received_exchange_date) == (
        "received",
        "2026-03-02T11:00:00+08:00",
        "2026-03-02",
    )


def test_untaken_deliveries_are_counted_per_unit(ledger: Ledger) -> None:
    with ledger.transaction():
        add_document(ledger, "d1", ["finance", "education"])
        add_document(ledger, "d2", ["education"])
        ledger.mark_delivered("d2", "education", DELIVERED)
        ledger.mark_received("d1", "finance", DELIVERED, "2026-03-02")
    assert ledger.pending_receipts() == [("education", 2)]
    assert [(d.doc_id, d.state) for d in ledger.pending_for("education")] == [
        ("d1", "queued"),
        ("d2", "delivered"),
    ]
    assert ledger.pending_for("finance") == []


def test_printed_copies_never_pass_the_quota(ledger: Ledger) -> None:
    with ledger.transaction():
        add_document(ledger, "d1", ["education"])
        counted = [
            ledger.add_printed("d1", "education", copies, before)
            for copies, before in ((1, 0), (2, 1), (1, 1), (1, 2))
        ]
    assert counted == [True, False, True, False]

    def printed() -> tuple[int, int]:
        delivery = ledger.delivery("d1", "education")
        assert delivery is not None
        return delivery.printed, delivery.print_quota

    assert printed() == (2, 2)
    with ledger.transaction():
        ledger.add_quota("d1", "education", 3)
        assert ledger.add_printed("d1", "education", 3, 2)
    assert printed() == (5, 5)


def test_a_print_counted_since_the_read_is_not_numbered_over(ledger: Ledger) -> None:
    """§35: copies are numbered from what was printed before; a print counted meanwhile (by
    another router) makes this one fail instead of handing out its copy numbers again."""
    with ledger.transaction():
        add_document(ledger, "d1", ["education"])
        assert ledger.add_printed("d1", "education", 1, 0)
        assert not ledger.add_printed("d1", "education", 1, 0)
        assert ledger.add_printed("d1", "education", 1, 1)


def test_attachments_received_is_set_once(ledger: Ledger) -> None:
    with ledger.transaction():
        add_document(ledger, "d1", ["education"])
        ledger.mark_attachments_received("d1", "education", "2026-03-02T11:00:00+08:00")
        ledger.mark_attachments_received("d1", "education", "2026-03-03T11:00:00+08:00")
    delivery = ledger.delivery("d1", "education")
    assert delivery is not None
    assert delivery.attachments_received_at == "2026-03-02T11:00:00+08:00"


def test_a_renamed_unit_keeps_its_former_names_in_order(ledger: Ledger) -> None:
    """§9(一): a renamed unit keeps its id; its former names stay on record."""
    with ledger.transaction():
        ledger.record_unit_name("finance", "财政局", "财政厅", "2026-03-01T09:00:00+08:00")
        ledger.record_unit_name("finance", "财政厅", "财政部门", "2026-03-02T09:00:00+08:00")
    assert ledger.unit_names("finance") == [
        ("财政局", "财政厅", "2026-03-01T09:00:00+08:00"),
        ("财政厅", "财政部门", "2026-03-02T09:00:00+08:00"),
    ]
    assert ledger.unit_names("education") == []


def test_a_documents_commands_are_its_history(ledger: Ledger) -> None:
    """Every command about a document, accepted or refused, with who and when, in time order
    (the board's history of a document)."""
    with ledger.transaction():
        add_document(ledger, "d1", ["education"])
        ledger.record_command(
            "c2",
            "education",
            "print_request",
            "2026-03-02T10:05:00+08:00",
            "rejected",
            "print_seal_required",
            doc_id="d1",
        )
        ledger.record_command(
            "c1", "education", "receipt", "2026-03-02T10:00:00+08:00", "accepted", doc_id="d1"
        )
        ledger.record_command("c3", "finance", "heartbeat", "2026-03-02T10:06:00+08:00", "accepted")
    assert [(c.unit, c.type, c.outcome, c.reason) for c in ledger.document_commands("d1")] == [
        ("education", "receipt", "accepted", ""),
        ("education", "print_request", "rejected", "print_seal_required"),
    ]
    assert ledger.document_commands("d2") == []
