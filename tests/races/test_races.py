"""SCALE.md §6 T1: two routers on one PostgreSQL ledger, each command raced against another
about the same delivery, with the second router reading while the first's writes are in flight
(tests/races/harness.py). Whichever wins, the loser gets the answer it would have got had they
come one after the other: never `internal_error`, never both.

Each race runs REPETITIONS times (tests/races/conftest.py), taking turns on which goes first;
the tests check both outcomes happened, so the interleaving really was forced both ways.
Races between two commands of one unit also run with the `links` upsert moved to the commit
(SCALE.md D5 R4): today that row lock alone makes them take turns.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from docex import wire
from docex.router.handler import Verdict
from tests.races.conftest import REPETITIONS
from tests.races.harness import Command, Exchange, Node, V, in_transaction, orders

ONE_UNIT = pytest.mark.parametrize("exchange", ["inline", "links_at_commit"], indirect=True)

pytestmark = pytest.mark.races


def applying(
    exchange: Exchange, node: Node, command: Command
) -> tuple[Node, Callable[[], list[Verdict]]]:
    """The command, as the router applies its batch, ready to race."""
    return node, lambda: exchange.apply(node, command)


def rejected(message: wire.RouterMessage, reason: str) -> bool:
    return isinstance(message, wire.Status) and (message.state, message.reason) == (
        "rejected",
        reason,
    )


def news(exchange: Exchange, doc_id: str, state: str) -> list[wire.Status]:
    """What the sender was told about the document's delivery to Finance."""
    return [
        message
        for key, message in exchange.messages()
        if key == "gov-office" and isinstance(message, wire.Status) and not message.ref
        if (message.doc_id, message.recipient, message.state) == (doc_id, "finance", state)
    ]


def test_a_withdrawal_and_a_print_never_both_succeed(exchange: Exchange) -> None:
    """DESIGN.md §2 (撤回), §35, §37: a print is the receipt, and a received document cannot be
    withdrawn; whichever router decides first, the other is refused for what it now is."""
    one, two = exchange.nodes
    seen = set()
    for withdraw_first in orders(REPETITIONS):
        doc = exchange.sent()
        withdraw = exchange.withdraw(doc, ["finance"])
        print_ = exchange.print_request("finance", doc, 1)
        sides = [applying(exchange, one, withdraw), applying(exchange, two, print_)]
        exchange.race(*sides, x_first=withdraw_first)

        assert not exchange.internal_errors()
        delivery = exchange.delivery(doc)
        withdrew, printed = exchange.answer(withdraw), exchange.answer(print_)
        seen.add(delivery.state)
        if delivery.state == "withdrawn":
            assert (delivery.printed, delivery.received_at) == (0, None)
            assert isinstance(withdrew, wire.WithdrawResult) and withdrew.withdrawn == ["finance"]
            assert rejected(printed, "document_withdrawn"), printed
            assert not news(exchange, doc, "received")
        else:
            assert delivery.state == "received" and delivery.printed == 1
            assert isinstance(printed, wire.PrintGrant), printed
            assert rejected(withdrew, "already_received"), withdrew
            assert len(news(exchange, doc, "received")) == 1
    assert seen == {"withdrawn", "received"}


@ONE_UNIT
@pytest.mark.parametrize("copies", [1, 2])
def test_two_prints_get_distinct_copy_numbers_within_the_quota(
    exchange: Exchange, copies: int
) -> None:
    """§35: copies are numbered on from those printed before and never past the quota, when
    two routers take one unit's print requests at once. With a quota of 3, two requests for
    one copy each get copies 1 and 2; two for two copies: one gets 1–2, the other is told
    that 1 is left."""
    one, two = exchange.nodes
    for _ in orders(REPETITIONS):
        doc = exchange.sent()
        first = exchange.print_request("finance", doc, copies)
        second = exchange.print_request("finance", doc, copies)
        verdicts = exchange.race(applying(exchange, one, first), applying(exchange, two, second))

        assert not exchange.internal_errors()
        granted = exchange.copies_granted(doc, "finance")
        delivery = exchange.delivery(doc)
        assert len(granted) == len(set(granted)) == delivery.printed <= delivery.print_quota
        assert set(granted) <= set(range(1, delivery.print_quota + 1))
        answers = [exchange.answer(first), exchange.answer(second)]
        if copies == 1:
            assert all(isinstance(answer, wire.PrintGrant) for answer in answers), answers
            assert verdicts == ([Verdict.ACK], [Verdict.ACK])
            assert sorted(granted) == [1, 2]
        else:
            assert isinstance(answers[0], wire.PrintGrant), answers
            assert (answers[0].first_copy, answers[0].last_copy) == (1, 2)
            assert isinstance(answers[1], wire.PrintDenied) and answers[1].remaining == 1
        assert len(news(exchange, doc, "received")) == 1, "the receipt is told once"


@ONE_UNIT
def test_a_return_and_a_receipt_never_both_succeed(exchange: Exchange) -> None:
    """§34, §37: a document is returned only before it is received; a returned one is no
    longer there to be read."""
    one, two = exchange.nodes
    seen = set()
    for return_first in orders(REPETITIONS):
        doc = exchange.sent()
        return_, receipt = exchange.return_("finance", doc), exchange.receipt("finance", doc)
        sides = [applying(exchange, one, return_), applying(exchange, two, receipt)]
        exchange.race(*sides, x_first=return_first)

        assert not exchange.internal_errors()
        delivery = exchange.delivery(doc)
        seen.add(delivery.state)
        if delivery.state == "returned":
            assert delivery.received_at is None
            assert exchange.answer(return_).state == "returned"  # type: ignore[union-attr]
            assert rejected(exchange.answer(receipt), "document_returned")
            assert not news(exchange, doc, "received")
        else:
            assert delivery.state == "received" and delivery.received_at is not None
            assert exchange.answer(receipt).state == "received"  # type: ignore[union-attr]
            assert rejected(exchange.answer(return_), "already_received")
            assert not news(exchange, doc, "returned")
    assert seen == {"returned", "received"}


def test_a_resend_request_and_a_withdrawal(exchange: Exchange) -> None:
    """§38, DESIGN.md §2 (撤回): a delivery waiting for its resend may still be withdrawn; a
    withdrawn one cannot be asked for again. Either way it ends withdrawn, and the unit that
    lost is told it was withdrawn."""
    one, two = exchange.nodes
    seen = set()
    for withdraw_first in orders(REPETITIONS):
        doc = exchange.sent()
        withdraw = exchange.withdraw(doc, ["finance"])
        resend = exchange.resend_request("finance", doc)
        sides = [applying(exchange, one, withdraw), applying(exchange, two, resend)]
        exchange.race(*sides, x_first=withdraw_first)

        assert not exchange.internal_errors()
        assert exchange.delivery(doc).state == "withdrawn"
        withdrew = exchange.answer(withdraw)
        assert isinstance(withdrew, wire.WithdrawResult) and withdrew.withdrawn == ["finance"]
        asked = exchange.answer(resend)
        assert isinstance(asked, wire.Status)
        seen.add(asked.state)
        if withdraw_first:
            assert rejected(asked, "document_withdrawn"), asked
        else:
            assert asked.state == "resend_requested", asked
    assert seen == {"rejected", "resend_requested"}


@ONE_UNIT
@pytest.mark.parametrize("kind", ["submit", "print", "receipt", "info"])
def test_one_command_on_two_routers_is_applied_once(exchange: Exchange, kind: str) -> None:
    """A command redelivered to another router while the first still holds it (a lost ack, a
    partition moving): one router applies it, the other sees a duplicate and acks it; one
    answer, one effect."""
    one, two = exchange.nodes
    for _ in orders(REPETITIONS):
        doc = exchange.sent()
        match kind:
            case "submit":
                command, doc = exchange.submit()
            case "print":
                command = exchange.print_request("finance", doc, 1)
            case "receipt":
                command = exchange.receipt("finance", doc)
            case _:
                command = exchange.info("finance")
        reports_before = exchange.count("SELECT count(*) FROM info_items")
        verdicts = exchange.race(applying(exchange, one, command), applying(exchange, two, command))

        assert verdicts == ([Verdict.ACK], [Verdict.ACK])
        assert not exchange.internal_errors()
        answer = exchange.answer(command)
        assert not (isinstance(answer, wire.Status) and answer.state == "rejected"), answer
        assert (
            exchange.count(
                "SELECT count(*) FROM commands WHERE unit = %s AND id = %s",
                command.unit,
                command.message_id,
            )
            == 1
        )
        match kind:
            case "submit":
                assert exchange.count("SELECT count(*) FROM deliveries WHERE doc_id = %s", doc) == 1
            case "print":
                assert exchange.delivery(doc).printed == 1
                assert exchange.copies_granted(doc, "finance") == [1]
            case "receipt":
                assert len(news(exchange, doc, "received")) == 1
            case _:
                assert exchange.count("SELECT count(*) FROM info_items") == reports_before + 1


@ONE_UNIT
def test_one_document_sent_twice_at_once_is_accepted_once(exchange: Exchange) -> None:
    """The same document (one id) sent again under another command id, each taken by another
    router: one is accepted, the other refused as `duplicate_document` (not a primary-key
    error answered `internal_error`)."""
    one, two = exchange.nodes
    for _ in orders(REPETITIONS):
        command, doc = exchange.submit()
        again = Command(command.unit, f"{command.message_id}-again", command.body, command.what)
        verdicts = exchange.race(applying(exchange, one, command), applying(exchange, two, again))

        assert not exchange.internal_errors()
        assert verdicts == ([Verdict.ACK], [Verdict.DEAD])
        accepted = exchange.answer(command)
        assert isinstance(accepted, wire.Status) and accepted.state == "accepted"
        assert rejected(exchange.answer(again), "duplicate_document")
        assert exchange.count("SELECT count(*) FROM deliveries WHERE doc_id = %s", doc) == 1


def test_paper_fallback_and_a_receipt_never_both_happen(exchange: Exchange) -> None:
    """§47, §37: after a long link fault the exchange puts what a unit has not received on
    paper (the link watch, on one router) while the unit, back, reads it (on the other): the
    document goes on paper or is received, never both, and the unit is refused for what the
    delivery now is."""
    one, two = exchange.nodes
    seen = set()
    for paper_first in orders(REPETITIONS):
        doc = exchange.sent()
        receipt = exchange.receipt("finance", doc)
        to_paper = in_transaction(
            one, lambda: one.handler.lifecycle.to_paper("finance", "link_down", "纸质交换")
        )
        sides = [(one, to_paper), applying(exchange, two, receipt)]
        moved, _ = exchange.race(*sides, x_first=paper_first)  # type: ignore[misc]

        assert not exchange.internal_errors()
        delivery = exchange.delivery(doc)
        seen.add(delivery.state)
        if delivery.state == "paper":
            assert delivery.received_at is None
            assert [document.id for document, _ in moved] == [doc]  # type: ignore[attr-defined]
            assert rejected(exchange.answer(receipt), "document_paper")
            assert len(news(exchange, doc, "paper")) == 1
        else:
            assert delivery.state == "received"
            assert moved == []
            assert exchange.answer(receipt).state == "received"  # type: ignore[union-attr]
            assert not news(exchange, doc, "paper")
    assert seen == {"paper", "received"}


def test_a_unit_leaving_and_a_print_never_both_happen(exchange: Exchange) -> None:
    """§9, §35: a unit revoked on one router (its reload came first) while the other still
    takes its print request: its pending documents go back to their senders, or it printed
    (and so received) them, never both."""
    one, two = exchange.nodes
    seen = set()
    for gone_first in orders(REPETITIONS):
        doc = exchange.sent()
        print_ = exchange.print_request("finance", doc, 1)
        gone = in_transaction(one, lambda: one.handler.lifecycle.recipient_gone("finance", ""))
        sides = [(one, gone), applying(exchange, two, print_)]
        exchange.race(*sides, x_first=gone_first)  # type: ignore[misc]

        assert not exchange.internal_errors()
        delivery = exchange.delivery(doc)
        seen.add(delivery.state)
        answer = exchange.answer(print_)
        if delivery.state == "recipient_revoked":
            assert (delivery.printed, delivery.received_at) == (0, None)
            assert rejected(answer, "wrong_state"), answer
            assert len(news(exchange, doc, "recipient_revoked")) == 1
        else:
            assert delivery.state == "received" and delivery.printed == 1
            assert isinstance(answer, wire.PrintGrant)
            assert not news(exchange, doc, "recipient_revoked")
    assert seen == {"recipient_revoked", "received"}


@ONE_UNIT
def test_a_request_is_replied_to_once(exchange: Exchange) -> None:
    """§42: the handling unit replies to a request once; a second reply, taken by the other
    router at the same moment, is refused as `already_replied` and the reply time stays the
    first one's."""
    one, two = exchange.nodes
    for _ in orders(REPETITIONS):
        request = exchange.command(
            "finance",
            wire.Info(v=V, kind="request", title="请办理", content="请核对", to=["education"]),
        )
        assert exchange.apply(one, request) == [Verdict.ACK]
        info_id = exchange.answer(request).doc_id  # type: ignore[union-attr]
        first, second = (
            exchange.command("education", wire.Reply(v=V, info_id=info_id, content=content))
            for content in ("已办结", "已办结（补充）")
        )
        exchange.tick()
        verdicts = exchange.race(applying(exchange, one, first), applying(exchange, two, second))

        assert not exchange.internal_errors()
        assert verdicts == ([Verdict.ACK], [Verdict.DEAD])
        assert exchange.answer(first).state == "accepted"  # type: ignore[union-attr]
        assert rejected(exchange.answer(second), "already_replied")
        replies = [
            message
            for key, message in exchange.messages()
            if key == "finance" and isinstance(message, wire.InfoItem)
            if message.in_reply_to == info_id
        ]
        assert [reply.content for reply in replies] == ["已办结"]
