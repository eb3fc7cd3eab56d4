"""The contract of what the receipt watch reads (§33), whichever database keeps it."""

from __future__ import annotations

from docex.ledger.port import Ledger
from docex.ledger.receipt_reminders import REMINDED, Unreceived
from tests.ledger.stored import add_document


def at(hour: int) -> str:
    return f"2026-03-02T{hour:02d}:00:00.000+08:00"


def test_deliveries_waiting_unreceived_and_unreminded_are_listed_oldest_first(
    ledger: Ledger,
) -> None:
    """§33: what sits in a recipient's queue since the bound; received, still queued or
    already reminded deliveries are not."""
    with ledger.transaction():
        add_document(ledger, "d1", ["education", "archive", "gov-office", "audit"])
        add_document(ledger, "d2", ["education", "late"])
        ledger.mark_delivered("d1", "education", at(10))
        ledger.mark_delivered("d2", "education", at(9))
        ledger.mark_delivered("d1", "archive", at(10))
        ledger.mark_received("d1", "archive", at(11), "2026-03-02")
        ledger.mark_delivered("d1", "gov-office", at(8))
        ledger.flag_once("gov-office", "d1", REMINDED, at(12))
        ledger.mark_delivered("d2", "late", at(13))
    assert ledger.unreceived_unreminded(at(12)) == [
        Unreceived("d2", "education", at(9)),
        Unreceived("d1", "education", at(10)),
    ]
    assert ledger.unreceived_unreminded(at(9)) == [Unreceived("d2", "education", at(9))]
