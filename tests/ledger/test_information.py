"""The contract of information items (§39-§45), whichever database keeps them."""

from __future__ import annotations

from docex.ledger.port import Ledger
from docex.ledger.records import StoredInfo


def at(day: int, hh_mm: str = "09:00") -> str:
    return f"2026-03-{day:02d}T{hh_mm}:00+08:00"


def item(info_id: str, kind: str, created_at: str, deadline: str = "") -> StoredInfo:
    return StoredInfo(
        info_id, kind, "finance", b"encoded " + info_id.encode(), created_at, deadline,
        None, None, None, None,
    )  # fmt: skip


def test_items_read_back_with_their_recipients(ledger: Ledger) -> None:
    stored = item("i1", "request", at(2), deadline=at(5))
    with ledger.transaction():
        ledger.insert_info(stored, ["education", "archive"])
        ledger.mark_info("i1", "adopted_at", at(3))
    assert ledger.info("i1") == StoredInfo(
        "i1", "request", "finance", b"encoded i1", at(2), at(5), None, None, None, at(3)
    )
    assert ledger.info_recipients("i1") == ["education", "archive"]
    assert ledger.info("i2") is None


def test_filed_parts_are_each_dated_by_their_first_filing(ledger: Ledger) -> None:
    """§41: a work update is filed by period and part; filing again does not move the date."""
    with ledger.transaction():
        ledger.insert_info(item("u1", "update", at(2)), ["gov-office"], "2026-03", "plan")
        ledger.insert_info(item("u2", "update", at(1)), ["gov-office"], "2026-03", "plan")
        ledger.insert_info(item("u3", "update", at(3)), ["gov-office"], "2026-03", "summary")
        ledger.insert_info(item("u4", "update", at(3)), ["gov-office"], "2026-02", "summary")
        ledger.insert_info(item("r1", "report", at(3)), ["gov-office"], "2026-03", "other")
    assert ledger.filed_parts("finance", "2026-03") == {"plan": at(1), "summary": at(3)}
    assert ledger.filed_parts("education", "2026-03") == {}


def test_requests_past_their_deadline_are_those_answered_late_or_not_at_all(
    ledger: Ledger,
) -> None:
    """§42: a request not answered by its deadline, with no delay explained, is overdue; a
    late reply does not undo the lateness, and each is flagged once."""
    deadline = at(5, "17:00")
    with ledger.transaction():
        for info_id in ("silent", "late", "on_time", "explained", "flagged", "not_yet"):
            due = at(9) if info_id == "not_yet" else deadline
            ledger.insert_info(item(info_id, "request", at(2), due), ["education"])
        ledger.insert_info(item("no_deadline", "request", at(2)), ["education"])
        ledger.mark_info("late", "replied_at", at(6))
        ledger.mark_info("on_time", "replied_at", at(5, "16:00"))
        ledger.mark_info("explained", "delay_explained_at", at(4))
        ledger.mark_info("flagged", "overdue_at", at(6))
    overdue = ledger.requests_past_deadline(at(7))
    assert sorted(info.id for info in overdue) == ["late", "silent"]


def test_a_reminder_or_flag_is_recorded_once(ledger: Ledger) -> None:
    with ledger.transaction():
        first = ledger.flag_once("education", "i1", "reminder", at(2))
        again = ledger.flag_once("education", "i1", "reminder", at(3))
        other = ledger.flag_once("education", "i1", "overdue", at(3))
        elsewhere = ledger.flag_once("archive", "i1", "reminder", at(3))
    assert (first, again, other, elsewhere) == (True, False, True, True)
