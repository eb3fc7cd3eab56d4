"""Which outbox rows a publishing pass sends together (docex/router/outbox.py)."""

from __future__ import annotations

from docex.ledger.records import OutboxRow
from docex.router.outbox import publishing_groups


def answer(seq: int, to: str, size: int = 10) -> OutboxRow:
    return OutboxRow(seq, to, f"m{seq}", "status", b"x" * size, None, None)


def deliver(seq: int, to: str) -> OutboxRow:
    return OutboxRow(seq, to, f"m{seq}", "deliver", None, f"d{seq}", to)


def seqs(groups: list[list[OutboxRow]]) -> list[list[int]]:
    return [[row.seq for row in group] for group in groups]


def test_answers_to_one_unit_go_together_and_deliveries_alone() -> None:
    rows = [answer(1, "a"), answer(2, "b"), answer(3, "a"), deliver(4, "b"), answer(5, "b")]
    assert seqs(publishing_groups(rows, batch_answers=True)) == [[1, 3], [2], [4], [5]]


def test_a_delivery_ends_its_destinations_run_so_its_order_holds() -> None:
    """A unit reads its news in the order the router wrote it: an answer written after a
    delivery must not overtake it in a batch that went out before it."""
    rows = [answer(1, "a"), deliver(2, "a"), answer(3, "a"), answer(4, "a")]
    assert seqs(publishing_groups(rows, batch_answers=True)) == [[1], [2], [3, 4]]


def test_a_batch_stays_under_its_byte_limit() -> None:
    rows = [answer(seq, "a", size=40) for seq in range(1, 6)]
    assert seqs(publishing_groups(rows, batch_answers=True, max_bytes=100)) == [
        [1, 2],
        [3, 4],
        [5],
    ]


def test_batches_can_be_turned_off() -> None:
    rows = [answer(1, "a"), answer(2, "a")]
    assert seqs(publishing_groups(rows, batch_answers=False)) == [[1], [2]]
