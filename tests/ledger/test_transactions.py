"""The contract of the unit of work: all of a transaction or none of it; a savepoint undoes
only its own part."""

from __future__ import annotations

import pytest

from docex.ledger.port import Ledger

AT = "2026-03-02T10:00:00+08:00"


class Refused(Exception):
    pass


def test_a_transaction_that_raises_leaves_nothing(ledger: Ledger) -> None:
    with pytest.raises(Refused), ledger.transaction():
        ledger.record_command("c1", "finance", "submit", AT, "accepted")
        ledger.enqueue("finance", "m1", "status")
        ledger.heard_from("finance", AT, heartbeat=True)
        raise Refused
    assert not ledger.command_seen("finance", "c1")
    assert ledger.outbox_depth() == 0
    assert ledger.link("finance") is None


def test_a_savepoint_that_raises_undoes_only_its_own_writes(ledger: Ledger) -> None:
    """One command of a batch fails; the batch's other commands commit."""
    with ledger.transaction():
        ledger.enqueue("finance", "m1", "status")
        with pytest.raises(Refused), ledger.savepoint():
            ledger.enqueue("finance", "m2", "status")
            ledger.record_command("c2", "finance", "submit", AT, "accepted")
            raise Refused
        with ledger.savepoint():
            ledger.enqueue("finance", "m3", "status")
    assert [row.message_id for row in ledger.outbox_batch(10)] == ["m1", "m3"]
    assert not ledger.command_seen("finance", "c2")


def test_a_commit_that_need_not_wait_for_the_disk_commits(ledger: Ledger) -> None:
    with ledger.transaction(durable=False):
        ledger.enqueue("finance", "m1", "status")
    assert ledger.outbox_depth() == 1
