"""The board's reads (docex/ledger/board_reads.py), written against the port like every contract
test: what each page lists, in which order, to whom, and that every list is bounded."""

from __future__ import annotations

import hashlib

import pytest

from docex.ledger import board_reads
from docex.ledger.board_reads import DocumentSearch, LateUpdate
from docex.ledger.port import Ledger
from docex.ledger.records import StoredDocument, StoredInfo


def at(day: int, hh_mm: str = "09:00") -> str:
    return f"2026-03-{day:02d}T{hh_mm}:00.000+08:00"


def send(
    ledger: Ledger,
    doc_id: str,
    sender: str,
    recipients: list[str],
    sent_at: str,
    title: str = "关于预算执行情况的通报",
    doc_no: str = "财预〔2026〕1号",
) -> None:
    content = b"%PDF-1.7 " + doc_id.encode()
    document = StoredDocument(
        id=doc_id,
        sender=sender,
        title=title,
        doc_no=doc_no,
        sha256=hashlib.sha256(content).digest(),
        envelope=b"envelope",
        sent_at=sent_at,
        sent_exchange_date=sent_at[:10],
    )
    ledger.insert_document(document, content, command_id=f"cmd-{doc_id}")
    for index, recipient in enumerate(recipients):
        ledger.insert_delivery(doc_id, recipient, "main" if index == 0 else "copy", 2)


def ids(rows: list[board_reads.DocumentRow]) -> list[str]:
    return [row.id for row in rows]


@pytest.fixture
def exchange(ledger: Ledger) -> Ledger:
    """Five documents over five days among finance, education and the office."""
    with ledger.transaction():
        send(ledger, "d1", "finance", ["education"], at(1), doc_no="财预〔2026〕1号")
        send(
            ledger, "d2", "education", ["gov-office"], at(2), "关于校园安全的通知", "教〔2026〕7号"
        )
        send(
            ledger,
            "d3",
            "gov-office",
            ["finance", "education"],
            at(3),
            "关于年终工作的通知",
            "府办〔2026〕12号",
        )
        send(
            ledger,
            "d4",
            "gov-office",
            ["education"],
            at(4),
            "关于100%_完成的通报",
            "府办〔2026〕120号",
        )
        send(
            ledger, "d5", "finance", ["gov-office"], at(5), "关于预算调整的请示", "财预〔2026〕2号"
        )
    return ledger


def test_documents_come_newest_first_a_page_at_a_time(exchange: Ledger) -> None:
    first = exchange.board_documents(DocumentSearch(), 2)
    assert ids(first) == ["d5", "d4"]
    second = exchange.board_documents(DocumentSearch(), 2, (first[-1].sent_at, first[-1].id))
    assert ids(second) == ["d3", "d2"]
    assert ids(exchange.board_documents(DocumentSearch(), 2, (second[-1].sent_at, "d2"))) == ["d1"]


def test_documents_sent_in_the_same_millisecond_page_by_id(ledger: Ledger) -> None:
    with ledger.transaction():
        for doc_id in ("a", "b", "c"):
            send(ledger, doc_id, "finance", ["education"], at(1))
    first = ledger.board_documents(DocumentSearch(), 2)
    assert ids(first) == ["c", "b"]
    assert ids(ledger.board_documents(DocumentSearch(), 2, (at(1), "b"))) == ["a"]


def test_a_doc_no_is_found_exactly_or_by_its_start(exchange: Ledger) -> None:
    assert ids(exchange.board_documents(DocumentSearch(doc_no="府办〔2026〕12号"), 10)) == ["d3"]
    assert ids(exchange.board_documents(DocumentSearch(doc_no="府办〔2026〕12"), 10)) == [
        "d4",
        "d3",
    ]
    assert ids(exchange.board_documents(DocumentSearch(doc_no="财预"), 10)) == ["d5", "d1"]
    assert exchange.board_documents(DocumentSearch(doc_no="府办〔2027〕"), 10) == []


def test_title_words_all_match_and_like_wildcards_are_plain_characters(exchange: Ledger) -> None:
    assert ids(exchange.board_documents(DocumentSearch(title="预算"), 10)) == ["d5", "d1"]
    assert ids(exchange.board_documents(DocumentSearch(title="预算 请示"), 10)) == ["d5"]
    assert ids(exchange.board_documents(DocumentSearch(title="100%_"), 10)) == ["d4"]
    assert exchange.board_documents(DocumentSearch(title="%"), 10) != []
    assert ids(exchange.board_documents(DocumentSearch(title="0%"), 10)) == ["d4"]
    assert exchange.board_documents(DocumentSearch(title="_完成_"), 10) == []


def test_sender_recipient_and_dates_narrow_the_search(exchange: Ledger) -> None:
    assert ids(exchange.board_documents(DocumentSearch(sender="finance"), 10)) == ["d5", "d1"]
    assert ids(exchange.board_documents(DocumentSearch(recipient="education"), 10)) == [
        "d4",
        "d3",
        "d1",
    ]
    dates = DocumentSearch(sent_from="2026-03-02", sent_until="2026-03-04")
    assert ids(exchange.board_documents(dates, 10)) == ["d4", "d3", "d2"]
    both = DocumentSearch(sender="gov-office", recipient="finance", sent_until="2026-03-03")
    assert ids(exchange.board_documents(both, 10)) == ["d3"]


@pytest.mark.parametrize("walk", [1, 2, 3, 1000])
def test_a_unit_sees_only_what_it_sent_or_received(
    exchange: Ledger, walk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether its page is found among the newest documents or read from its own rows."""
    monkeypatch.setattr(board_reads, "VIEWER_WALK", walk)
    finance = DocumentSearch(viewer="finance")
    assert ids(exchange.board_documents(finance, 10)) == ["d5", "d3", "d1"]
    assert ids(exchange.board_documents(finance, 2)) == ["d5", "d3"]
    assert ids(exchange.board_documents(finance, 10, (at(3), "d3"))) == ["d1"]
    searched = DocumentSearch(title="校园", viewer="finance")
    assert exchange.board_documents(searched, 10) == []
    assert ids(exchange.board_documents(DocumentSearch(title="预算", viewer="finance"), 10)) == [
        "d5",
        "d1",
    ]


def test_title_search_looks_at_a_bounded_window_and_says_where_it_ended(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(board_reads, "TITLE_WINDOW", 3)
    with ledger.transaction():
        for day in range(1, 6):
            title = "关于预算的通知" if day == 1 else "关于会议的通知"
            send(ledger, f"d{day}", "finance", ["education"], at(day), title)
    search = DocumentSearch(title="预算")
    assert ledger.board_documents(search, 10) == []
    end = ledger.board_title_window_end(search)
    assert end == (at(3), "d3")
    assert ids(ledger.board_documents(search, 10, (at(3), "d3"))) == ["d1"]
    assert ledger.board_title_window_end(search, (at(3), "d3")) is None


def test_waiting_deliveries_oldest_first_and_per_recipient(exchange: Ledger) -> None:
    """Deliveries delivered and not yet received (§37), as the 24-hour check reads them."""
    with exchange.transaction():
        exchange.mark_delivered("d1", "education", at(1, "09:01"))
        exchange.mark_delivered("d3", "finance", at(3, "09:01"))
        exchange.mark_delivered("d3", "education", at(3, "09:02"))
        exchange.mark_delivered("d5", "gov-office", at(5, "09:01"))
        exchange.mark_received("d3", "education", at(3, "10:00"), "2026-03-03")
        # d2, d4 stay queued: not yet in the recipient's queue, so not waiting for receipt.

    rows = exchange.board_waiting(None, 10)
    assert [(row.doc_id, row.recipient) for row in rows] == [
        ("d1", "education"),
        ("d3", "finance"),
        ("d5", "gov-office"),
    ]
    assert (rows[1].role, rows[1].sender, rows[1].doc_no) == (
        "main",
        "gov-office",
        "府办〔2026〕12号",
    )
    assert [(row.doc_id, row.recipient) for row in exchange.board_waiting(None, 1, 1)] == [
        ("d3", "finance")
    ]
    totals = exchange.board_waiting_totals(None)
    assert [(t.recipient, t.count, t.oldest_delivered_at) for t in totals] == [
        ("education", 1, at(1, "09:01")),
        ("finance", 1, at(3, "09:01")),
        ("gov-office", 1, at(5, "09:01")),
    ]
    # Finance sees what waits for it and what it sent that waits elsewhere.
    finance = exchange.board_waiting("finance", 10)
    assert [(row.doc_id, row.recipient) for row in finance] == [
        ("d1", "education"),
        ("d3", "finance"),
        ("d5", "gov-office"),
    ]
    education = exchange.board_waiting("education", 10)
    assert [(row.doc_id, row.recipient) for row in education] == [("d1", "education")]
    assert [(t.recipient, t.count) for t in exchange.board_waiting_totals("education")] == [
        ("education", 1)
    ]


def test_links_faults_and_notices_newest_first_and_bounded(ledger: Ledger) -> None:
    """§46, §47: faults that ended, latest first; notices a page at a time."""
    with ledger.transaction():
        ledger.heard_from("finance", at(1), heartbeat=True)
        ledger.heard_from("education", at(2), heartbeat=False)
        first = ledger.start_fault("finance", "heartbeat_lost", at(1), office_notified=True)
        ledger.end_fault(first.id, at(1, "10:00"))
        second = ledger.start_fault("education", "queue_untaken", at(2), office_notified=True)
        ledger.end_fault(second.id, at(2, "12:00"))
        open_one = ledger.start_fault("finance", "heartbeat_lost", at(3), office_notified=True)
        notices = [
            ledger.add_notice(open_one.id, unit, f"/spool/{unit}.pdf", at(4), [])
            for unit in ("finance", "education", "gov-office")
        ]
    assert ledger.board_links() == {"finance": (at(1), True), "education": (at(2), False)}
    assert ledger.board_ended_faults(10) == [
        (second.id, "education", "queue_untaken", at(2), at(2, "12:00")),
        (first.id, "finance", "heartbeat_lost", at(1), at(1, "10:00")),
    ]
    assert len(ledger.board_ended_faults(1)) == 1
    page = ledger.board_notices(2)
    assert [row[0] for row in page] == [notices[2], notices[1]]
    assert page[0][1:] == (open_one.id, "gov-office", at(4))
    assert [row[0] for row in ledger.board_notices(2, before=notices[1])] == [notices[0]]


def test_overdue_requests_and_late_updates_latest_first(ledger: Ledger) -> None:
    """§42: requests flagged overdue with their handlers; §41: work updates flagged late."""

    def request(info_id: str, created: str) -> StoredInfo:
        return StoredInfo(
            info_id, "request", "gov-office", b"item", created, at(2), None, None, None, None
        )

    with ledger.transaction():
        ledger.insert_info(request("r1", at(1)), ["finance", "education"])
        ledger.insert_info(request("r2", at(1, "10:00")), ["finance"])
        ledger.insert_info(request("r3", at(1, "11:00")), ["education"])
        ledger.mark_info("r1", "overdue_at", at(3))
        ledger.mark_info("r2", "overdue_at", at(4))
        ledger.mark_info("r2", "replied_at", at(4, "10:00"))
        ledger.flag_once("finance", "2026-02", "late", at(10))
        ledger.flag_once("education", "2026-02", "reminder_due", at(10))
        ledger.flag_once("education", "2026-01", "late", at(11))

    overdue = ledger.board_overdue_requests(10)
    assert [r.id for r in overdue] == ["r2", "r1"]
    assert overdue[0].replied_at == at(4, "10:00")
    assert overdue[1].recipients == ["education", "finance"]
    assert (overdue[1].deadline, overdue[1].overdue_at) == (at(2), at(3))
    assert len(ledger.board_overdue_requests(1)) == 1
    assert ledger.board_late_updates(10) == [
        LateUpdate("education", "2026-01", at(11)),
        LateUpdate("finance", "2026-02", at(10)),
    ]
