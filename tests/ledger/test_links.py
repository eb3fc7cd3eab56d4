"""The contract of links, faults (§46) and paper notices (§47), whichever database keeps them."""

from __future__ import annotations

import pytest

from docex.ledger.port import Ledger
from docex.ledger.records import EXCHANGE, Fault, Link
from tests.ledger.stored import add_document


def at(hh_mm: str) -> str:
    return f"2026-03-02T{hh_mm}:00+08:00"


def test_a_unit_once_heard_by_heartbeat_stays_watched_by_heartbeat(ledger: Ledger) -> None:
    """§46: only units that send heartbeats are watched by them."""
    assert ledger.link("finance") is None
    with ledger.transaction():
        ledger.heard_from("finance", at("09:00"), heartbeat=False)
    assert ledger.link("finance") == Link("finance", at("09:00"), False)
    with ledger.transaction():
        ledger.heard_from("finance", at("09:01"), heartbeat=True)
        ledger.heard_from("finance", at("09:02"), heartbeat=False)
    assert ledger.link("finance") == Link("finance", at("09:02"), True)


def test_one_fault_is_open_per_scope(ledger: Ledger) -> None:
    """§46: a fault lasts until its link is back; a scope has one open at a time."""
    with ledger.transaction():
        fault = ledger.start_fault("finance", "heartbeat_lost", at("09:00"), office_notified=True)
        down = ledger.start_fault(EXCHANGE, "broker_unreachable", at("09:05"), False)
    assert fault == Fault(
        fault.id, "finance", "heartbeat_lost", at("09:00"), None, at("09:00"), None
    )
    assert down.office_notified_at is None
    assert ledger.open_fault("finance") == ledger.fault(fault.id) == fault
    assert ledger.open_faults() == [fault, down]
    with pytest.raises(Exception), ledger.transaction():  # noqa: B017
        ledger.start_fault("finance", "untaken", at("09:10"), False)

    with ledger.transaction():
        ledger.end_fault(fault.id, at("10:00"))
        again = ledger.start_fault("finance", "untaken", at("11:00"), False)
    assert ledger.open_fault("finance") == again
    assert ledger.last_ended("finance") == at("10:00")
    assert ledger.last_ended(EXCHANGE) is None
    assert [f.id for f in ledger.open_faults()] == [down.id, again.id]
    assert [(f.id, f.ended_at) for f in ledger.faults()] == [
        (fault.id, at("10:00")),
        (down.id, None),
        (again.id, None),
    ]


def test_paper_issued_is_recorded_on_the_fault(ledger: Ledger) -> None:
    """§47: the documents went on paper at this time."""
    with ledger.transaction():
        fault = ledger.start_fault("finance", "heartbeat_lost", at("09:00"), False)
        ledger.mark_paper_issued(fault.id, at("10:00"))
    stored = ledger.fault(fault.id)
    assert stored is not None and stored.paper_issued_at == at("10:00")
    assert ledger.fault(fault.id + 1000) is None


def test_notices_list_their_documents_in_order(ledger: Ledger) -> None:
    """§47: one printable notice for one unit, and the deliveries it lists."""
    with ledger.transaction():
        first = ledger.start_fault("finance", "heartbeat_lost", at("09:00"), False)
        second = ledger.start_fault("education", "heartbeat_lost", at("09:00"), False)
        one = ledger.add_notice(first.id, "finance", "/spool/1.pdf", at("10:00"), ["d2", "d1"])
        two = ledger.add_notice(second.id, "education", "/spool/2.pdf", at("10:01"), ["d3"])
        three = ledger.add_notice(first.id, "finance", "/spool/3.pdf", at("11:00"), [])
    assert [n.id for n in ledger.notices()] == [one, two, three]
    assert [n.id for n in ledger.notices(first.id)] == [one, three]
    assert [n.id for n in ledger.notices(unit="education")] == [two]
    assert ledger.notices(second.id, "finance") == []
    notice = ledger.notice(one)
    assert notice is not None
    assert (notice.fault_id, notice.unit, notice.path, notice.created_at) == (
        first.id,
        "finance",
        "/spool/1.pdf",
        at("10:00"),
    )
    assert ledger.notice_documents(one) == ["d2", "d1"]
    assert ledger.notice_documents(three) == []
    assert ledger.notice(three + 1000) is None


def test_the_oldest_untaken_delivery_is_compared_as_an_instant(ledger: Ledger) -> None:
    """Stamps carry their UTC offset: 03:30+01:00 is after 10:00+08:00."""
    with ledger.transaction():
        add_document(ledger, "d1", ["finance"])
        add_document(ledger, "d2", ["finance"])
        add_document(ledger, "d3", ["finance"])
        ledger.mark_delivered("d1", "finance", "2026-03-02T03:30:00+01:00")
        ledger.mark_delivered("d2", "finance", at("10:00"))
        ledger.mark_delivered("d3", "finance", at("09:00"))
        ledger.mark_received("d3", "finance", at("09:30"), "2026-03-02")
    assert ledger.oldest_untaken("finance", None) == at("10:00")
    assert ledger.oldest_untaken("finance", at("10:00")) == "2026-03-02T03:30:00+01:00"
    assert ledger.oldest_untaken("finance", at("10:30")) is None
    assert ledger.oldest_untaken("education", None) is None
