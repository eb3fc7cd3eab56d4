"""Which outbox rows a publishing pass sends together (docex/router/outbox.py)."""

from __future__ import annotations

from docex.ledger.records import OutboxRow
from docex.router.outbox import Rendered, publishing_groups


def answer(seq: int, to: str, size: int = 10) -> Rendered:
    return OutboxRow(seq, to, f"m{seq}", "status", b"x" * size, None, None), b"x" * size


def deliver(seq: int, to: str, size: int = 10) -> Rendered:
    return OutboxRow(seq, to, f"m{seq}", "deliver", None, f"d{seq}", to), b"d" * size


def seqs(groups: list[list[Rendered]]) -> list[list[int]]:
    return [[row.seq for row, _ in group] for group in groups]


def test_what_is_due_to_one_unit_goes_together_deliveries_and_answers_alike() -> None:
    rows = [answer(1, "a"), answer(2, "b"), deliver(3, "a"), deliver(4, "b"), answer(5, "b")]
    assert seqs(publishing_groups(rows, batch_answers=True)) == [[1, 3], [2, 4, 5]]


def test_each_units_rows_keep_their_order_across_batches() -> None:
    """A unit reads its news in the order the router wrote it: a later row never goes out in
    an earlier batch than one written before it."""
    rows = [answer(1, "a", 40), deliver(2, "a", 50), answer(3, "a", 40), deliver(4, "a", 50)]
    assert seqs(publishing_groups(rows, batch_answers=True, max_bytes=100)) == [
        [1, 2],
        [3, 4],
    ]


def test_a_batch_stays_under_its_byte_limit() -> None:
    rows = [answer(seq, "a", size=40) for seq in range(1, 6)]
    assert seqs(publishing_groups(rows, batch_answers=True, max_bytes=100)) == [
        [1, 2],
        [3, 4],
        [5],
    ]


def test_a_document_over_the_limit_goes_alone() -> None:
    rows = [answer(1, "a"), deliver(2, "a", size=500), answer(3, "a")]
    assert seqs(publishing_groups(rows, batch_answers=True, max_bytes=100)) == [[1], [2], [3]]


def test_batches_can_be_turned_off() -> None:
    rows = [answer(1, "a"), deliver(2, "a"), answer(3, "a")]
    assert seqs(publishing_groups(rows, batch_answers=False)) == [[1], [2], [3]]
