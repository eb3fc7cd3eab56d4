"""The ledger writes a delivery's state only from where the table (docex/core/states.py)
allows: each write is a compare-and-set, so a delivery changed since it was read is never
overwritten. On a real SQLite file, one delivery put into each state through the ledger's
own writes."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from docex.core.states import TAKEN_AWAY, TRANSITIONS, DeliveryState
from docex.ledger.records import StoredDocument
from docex.ledger.sqlite import SqliteLedger

S = DeliveryState
DOC, UNIT = "doc-1", "finance"
AT, EXCHANGE_DATE = "2026-11-26T10:00:00+08:00", "2026-11-26"


def write(ledger: SqliteLedger, to: DeliveryState) -> bool:
    """The ledger's write that moves a delivery to `to`; whether it moved."""
    match to:
        case S.DELIVERED:
            return ledger.mark_delivered(DOC, UNIT, AT)
        case S.RECEIVED:
            return ledger.mark_received(DOC, UNIT, AT, EXCHANGE_DATE)
        case S.QUEUED:
            return ledger.requeue(DOC, UNIT) is not None
        case _:
            return ledger.move(DOC, UNIT, to)


# How a delivery reaches each state, and two that were received before a resend (§37, §38).
PATHS: dict[str, list[DeliveryState]] = {
    "queued": [],
    "delivered": [S.DELIVERED],
    "received": [S.DELIVERED, S.RECEIVED],
    "resend_requested": [S.DELIVERED, S.RESEND_REQUESTED],
    "returned": [S.RETURNED],
    "withdrawn": [S.WITHDRAWN],
    "paper": [S.PAPER],
    "forwarded": [S.FORWARDED],
    "recipient_revoked": [S.RECIPIENT_REVOKED],
    "resend_requested after receipt": [S.DELIVERED, S.RECEIVED, S.RESEND_REQUESTED],
    "queued after receipt": [S.DELIVERED, S.RECEIVED, S.RESEND_REQUESTED, S.QUEUED],
}


def ledger_with_delivery(tmp_path: Path, path: str) -> SqliteLedger:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    content = b"%PDF-1.7 notice"
    sha256 = hashlib.sha256(content).digest()
    document = StoredDocument(DOC, "gov-office", "通知", "办〔2026〕1号", sha256, b"", AT, AT[:10])
    ledger.insert_document(document, content, "command-1")
    ledger.insert_delivery(DOC, UNIT, "main", 3)
    for to in PATHS[path]:
        assert write(ledger, to), f"{path}: the move to {to}"
    return ledger


@pytest.mark.parametrize(("current", "to"), list(itertools.product(DeliveryState, DeliveryState)))
def test_a_delivery_moves_exactly_where_the_table_allows(
    tmp_path: Path, current: DeliveryState, to: DeliveryState
) -> None:
    ledger = ledger_with_delivery(tmp_path, current)
    before = ledger.delivery(DOC, UNIT)
    assert before is not None and before.state == current

    moved = write(ledger, to)

    after = ledger.delivery(DOC, UNIT)
    if to in TRANSITIONS[current]:
        assert moved and after is not None and after.state == to
    else:
        assert not moved and after == before


@pytest.mark.parametrize(
    ("path", "to"),
    [
        *itertools.product(
            ["resend_requested after receipt", "queued after receipt"], sorted(TAKEN_AWAY)
        ),
        ("queued after receipt", S.RECEIVED),
    ],
)
def test_a_received_delivery_stays_received_through_a_resend(
    tmp_path: Path, path: str, to: DeliveryState
) -> None:
    """§37: the receipt time is set once and kept through a resend (§38), so such a delivery
    is never returned (§34), withdrawn, put on paper (§47), forwarded or revoked, nor received
    a second time, although its state alone would allow it."""
    ledger = ledger_with_delivery(tmp_path, path)
    before = ledger.delivery(DOC, UNIT)
    assert before is not None and before.received_at == AT

    assert not write(ledger, to)
    assert ledger.delivery(DOC, UNIT) == before


def test_a_queued_delivery_received_before_a_resend_is_received_again_once_delivered(
    tmp_path: Path,
) -> None:
    """§37: the resent copy reaching the recipient's queue does not undo the receipt."""
    ledger = ledger_with_delivery(tmp_path, "queued after receipt")

    assert ledger.mark_delivered(DOC, UNIT, "2026-11-27T09:00:00+08:00")

    delivery = ledger.delivery(DOC, UNIT)
    assert delivery is not None
    assert (delivery.state, delivery.received_at, delivery.attempt) == ("received", AT, 2)


@pytest.mark.parametrize("to", [S.QUEUED, S.DELIVERED, S.RECEIVED])
def test_move_leaves_the_states_that_carry_more_to_their_own_writes(
    tmp_path: Path, to: DeliveryState
) -> None:
    """A receipt needs its time (§37), a delivery its time, a resend its attempt number."""
    ledger = ledger_with_delivery(tmp_path, "resend_requested")
    with pytest.raises(ValueError, match="sets more than the state"):
        ledger.move(DOC, UNIT, to)
