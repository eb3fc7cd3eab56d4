"""SCALE.md D5 R2, the second fence: the ledger's guarded writes (compare-and-set) hold under
READ COMMITTED by themselves, with no subject lock. Two sessions make the same write to one
delivery, the second while the first's is in flight (tests/races/harness.py): exactly one
takes effect, and the other is told so and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from docex.core.states import DeliveryState
from docex.ledger.postgres import PostgresLedger
from tests.races.harness import Exchange, in_transaction

Write = Callable[[PostgresLedger, str], bool]

WRITES: dict[str, tuple[Write, Write]] = {
    # §35: two prints numbered on from the same read: the second is refused.
    "two prints from one read": (
        lambda ledger, doc: ledger.add_printed(doc, "finance", 1, 0),
        lambda ledger, doc: ledger.add_printed(doc, "finance", 1, 0),
    ),
    # §37: the receipt time is set by the first receipt only.
    "two receipts": (
        lambda ledger, doc: ledger.mark_received(doc, "finance", "2026-11-26T10:01:00+08:00", "x"),
        lambda ledger, doc: ledger.mark_received(doc, "finance", "2026-11-26T10:02:00+08:00", "x"),
    ),
    # §34, 撤回: a delivery is taken away once, by a withdrawal or a return.
    "a withdrawal and a return": (
        lambda ledger, doc: ledger.move(doc, "finance", DeliveryState.WITHDRAWN),
        lambda ledger, doc: ledger.move(doc, "finance", DeliveryState.RETURNED),
    ),
    # §37, 撤回: a received delivery is not withdrawn.
    "a receipt and a withdrawal": (
        lambda ledger, doc: ledger.mark_received(doc, "finance", "2026-11-26T10:01:00+08:00", "x"),
        lambda ledger, doc: ledger.move(doc, "finance", DeliveryState.WITHDRAWN),
    ),
    # §47, §37: what went on paper is not received electronically.
    "paper and a receipt": (
        lambda ledger, doc: ledger.move(doc, "finance", DeliveryState.PAPER),
        lambda ledger, doc: ledger.mark_received(doc, "finance", "2026-11-26T10:01:00+08:00", "x"),
    ),
}

pytestmark = pytest.mark.races


@pytest.mark.parametrize("writes", WRITES.values(), ids=WRITES.keys())
def test_a_guarded_write_takes_effect_once(exchange: Exchange, writes: tuple[Write, Write]) -> None:
    one, two = exchange.nodes
    first, second = writes
    for _ in range(5):
        doc = exchange.sent()
        won = exchange.race(
            (one, in_transaction(one, partial(first, one.session, doc))),
            (two, in_transaction(two, partial(second, two.session, doc))),
        )
        assert won == (True, False)
        after = exchange.delivery(doc)
        assert after.printed <= 1
        if after.received_at is not None:
            assert after.received_at.startswith("2026-11-26T10:01"), "set by the first receipt"
