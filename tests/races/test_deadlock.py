"""Two routers' batches that lock the same two documents in opposite orders deadlock (each
command locks its document as it comes, SCALE.md D5): PostgreSQL breaks the deadlock by
failing one transaction, and that batch must fail as a whole as the ledger's trouble
(`LedgerUnavailable`, which the router waits out and retries), never be half-applied or
answered `internal_error`. Retried, it applies."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from docex.ledger.errors import LedgerUnavailable
from docex.router.handler import Verdict
from docex.router.lifecycle import subject_lock
from tests.races.harness import TIMEOUT_S, Command, Exchange, Node

Outcome = list[Verdict] | LedgerUnavailable

pytestmark = pytest.mark.races


def test_a_deadlock_between_two_batches_fails_one_whole_and_it_applies_when_retried(
    exchange: Exchange,
) -> None:
    """§37: two recipients read the same two documents, in opposite orders, on two routers."""
    one, two = exchange.nodes
    for _ in range(2):
        first_doc = exchange.sent(cc=["education"])
        second_doc = exchange.sent(cc=["education"])
        batches = {
            one.name: [
                exchange.receipt("finance", first_doc),
                exchange.receipt("finance", second_doc),
            ],
            two.name: [
                exchange.receipt("education", second_doc),
                exchange.receipt("education", first_doc),
            ],
        }
        outcomes = both_holding_their_first(exchange, batches, {first_doc, second_doc})

        failed = [name for name, outcome in outcomes.items() if isinstance(outcome, Exception)]
        assert len(failed) == 1, outcomes
        [victim] = failed
        error = outcomes[victim]
        assert isinstance(error, LedgerUnavailable) and error.reason == "locked", error
        [winner] = set(batches) - {victim}
        assert outcomes[winner] == [Verdict.ACK, Verdict.ACK]
        for command in batches[victim]:
            assert exchange.answers(command) == [], "nothing of the failed batch is left"
            recorded = "SELECT count(*) FROM commands WHERE id = %s"
            assert exchange.count(recorded, command.message_id) == 0

        [node] = [node for node in exchange.nodes if node.name == victim]
        assert exchange.apply(node, *batches[victim]) == [Verdict.ACK, Verdict.ACK]
        for command in batches[one.name] + batches[two.name]:
            assert exchange.answer(command).state == "received"  # type: ignore[union-attr]
        assert not exchange.internal_errors()


def both_holding_their_first(
    exchange: Exchange, batches: dict[str, list[Command]], doc_ids: set[str]
) -> dict[str, Outcome]:
    """Each router applies its batch; each holds its first document's lock before either
    asks for its second."""
    holding = threading.Barrier(2, timeout=TIMEOUT_S)
    subjects = {subject_lock(doc_id) for doc_id in doc_ids}

    def apply(node: Node) -> Outcome:
        taken: list[str] = []

        def locked(subject: str) -> None:
            if subject in subjects and not taken:
                taken.append(subject)
                holding.wait()

        node.session.locked = locked
        try:
            return exchange.apply(node, *batches[node.name])
        except LedgerUnavailable as exc:
            return exc
        finally:
            node.session.locked = lambda subject: None

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(batches, pool.map(apply, exchange.nodes), strict=True))
