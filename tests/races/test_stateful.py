"""Random play on two routers sharing one PostgreSQL ledger (SCALE.md §6 T1): commands about a
few documents go to either router in turn, some are delivered twice, some pairs are raced
(tests/races/harness.py), and so is the paper fallback (§47); after every step the rules of
§31–§38 hold for every delivery, and every command has had exactly one answer."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from docex import wire
from docex.core.states import TAKEN_AWAY
from docex.router.handler import Verdict
from tests.races.harness import Command, Exchange, Node, in_transaction

RECIPIENTS = ["finance", "education"]
KINDS = ["receipt", "print", "withdraw", "return", "resend_request", "resend"]

pytestmark = pytest.mark.races


class TwoRouters(RuleBasedStateMachine):
    exchange: Exchange
    documents = Bundle("documents")
    commands = Bundle("commands")

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Command] = []
        self.doc_ids: list[str] = []
        self.received_at: dict[tuple[str, str], str] = {}
        self.turn = 0

    def next_node(self) -> Node:
        """The routers take turns."""
        self.turn += 1
        return self.exchange.nodes[self.turn % 2]

    def make(self, kind: str, doc: str, unit: str, copies: int) -> Command:
        exchange = self.exchange
        match kind:
            case "receipt":
                return exchange.receipt(unit, doc)
            case "print":
                return exchange.print_request(unit, doc, copies)
            case "withdraw":
                return exchange.withdraw(doc, [unit])
            case "return":
                return exchange.return_(unit, doc)
            case "resend_request":
                return exchange.resend_request(unit, doc)
            case _:
                return exchange.resend(doc, unit)

    def apply(self, command: Command) -> None:
        self.sent.append(command)
        verdicts = self.exchange.apply(self.next_node(), command)
        assert verdicts in ([Verdict.ACK], [Verdict.DEAD])

    @rule(target=documents, finance=st.integers(0, 3), education=st.integers(0, 2))
    def send(self, finance: int, education: int) -> str:
        self.exchange.tick()
        command, doc = self.exchange.submit(
            to=["finance"],
            cc=["education"],
            print_quota={"finance": finance, "education": education},
        )
        self.apply(command)
        self.doc_ids.append(doc)
        return doc

    @rule()
    def publish(self) -> None:
        """The broker confirmed what the outbox held: queued deliveries become delivered."""
        self.exchange.publish(self.next_node())

    @rule(
        target=commands,
        doc=documents,
        kind=st.sampled_from(KINDS),
        unit=st.sampled_from(RECIPIENTS),
        copies=st.integers(1, 2),
    )
    def command(self, doc: str, kind: str, unit: str, copies: int) -> Command:
        self.exchange.tick()
        command = self.make(kind, doc, unit, copies)
        self.apply(command)
        return command

    @rule(command=commands)
    def redeliver(self, command: Command) -> None:
        """The broker delivers a command again, to either router: acked, nothing changes."""
        before = self.snapshot()
        assert self.exchange.apply(self.next_node(), command) == [Verdict.ACK]
        assert self.snapshot() == before

    @rule(
        doc=documents,
        kinds=st.tuples(st.sampled_from(KINDS), st.sampled_from(KINDS)),
        units=st.tuples(st.sampled_from(RECIPIENTS), st.sampled_from(RECIPIENTS)),
        copies=st.integers(1, 2),
        one_first=st.booleans(),
    )
    def race(
        self,
        doc: str,
        kinds: tuple[str, str],
        units: tuple[str, str],
        copies: int,
        one_first: bool,
    ) -> None:
        """Two commands about one document on the two routers at once."""
        self.exchange.tick()
        one, two = self.exchange.nodes
        first = self.make(kinds[0], doc, units[0], copies)
        second = self.make(kinds[1], doc, units[1], copies)
        self.sent += [first, second]
        self.exchange.race(
            (one, lambda: self.exchange.apply(one, first)),
            (two, lambda: self.exchange.apply(two, second)),
            x_first=one_first,
        )

    @rule(
        doc=documents,
        kind=st.sampled_from(KINDS),
        unit=st.sampled_from(RECIPIENTS),
        paper_first=st.booleans(),
    )
    def race_paper(self, doc: str, kind: str, unit: str, paper_first: bool) -> None:
        """§47: one router's link watch puts what a unit has not received on paper while the
        other takes a command about one of those documents."""
        self.exchange.tick()
        one, two = self.exchange.nodes
        command = self.make(kind, doc, unit, 1)
        self.sent.append(command)
        self.exchange.race(
            (
                one,
                in_transaction(one, lambda: one.handler.lifecycle.to_paper(unit, "link_down", "")),
            ),
            (two, lambda: self.exchange.apply(two, command)),
            x_first=paper_first,
        )

    @precondition(lambda self: bool(self.doc_ids))
    @rule(data=st.data())
    def race_one_command_on_both(self, data: st.DataObject) -> None:
        """One command taken by both routers at once (redelivered while still in hand)."""
        doc = data.draw(st.sampled_from(self.doc_ids))
        kind = data.draw(st.sampled_from(KINDS))
        unit = data.draw(st.sampled_from(RECIPIENTS))
        command = self.make(kind, doc, unit, 1)
        self.sent.append(command)
        one, two = self.exchange.nodes
        verdicts = self.exchange.race(
            (one, lambda: self.exchange.apply(one, command)),
            (two, lambda: self.exchange.apply(two, command)),
        )
        assert [Verdict.ACK] in verdicts, "the duplicate is acked"

    def snapshot(self) -> tuple[object, ...]:
        exchange = self.exchange
        deliveries = [exchange.observer.deliveries(doc) for doc in self.doc_ids]
        return deliveries, len(exchange.messages()), exchange.count("SELECT count(*) FROM commands")

    @invariant()
    def every_command_is_answered_once_and_recorded_once(self) -> None:
        if not self.sent:
            return
        refs = Counter(
            getattr(message, "ref", "")
            for key, message in self.exchange.messages()
            if isinstance(message, wire.Answer)
        )
        for command in self.sent:
            assert refs[command.message_id] == 1, (command.what, refs[command.message_id])
        assert not self.exchange.internal_errors()
        ids = list({command.message_id for command in self.sent})
        recorded = self.exchange.count("SELECT count(*) FROM commands WHERE id = ANY(%s)", ids)
        assert recorded == len(ids)

    @invariant()
    def deliveries_obey_the_rules(self) -> None:
        """§35: printed within the quota, each copy number once; §37: the receipt time is set
        once; §34, §47, 撤回: nothing taken away once received or printed."""
        for doc in self.doc_ids:
            for delivery in self.exchange.observer.deliveries(doc):
                key = (doc, delivery.recipient)
                assert 0 <= delivery.printed <= delivery.print_quota, delivery
                granted = self.exchange.copies_granted(doc, delivery.recipient)
                assert sorted(granted) == list(range(1, delivery.printed + 1)), (granted, delivery)
                if delivery.state in TAKEN_AWAY:
                    assert delivery.received_at is None and delivery.printed == 0, delivery
                if key in self.received_at:
                    assert delivery.received_at == self.received_at[key], "receipt time changed"
                elif delivery.received_at is not None:
                    self.received_at[key] = delivery.received_at

    @invariant()
    def the_state_counts_match_the_deliveries(self) -> None:
        """The counts the metrics show (appended deltas on PostgreSQL) match the rows."""
        counted = {state: n for state, n in self.exchange.observer.deliveries_by_state() if n}
        rows = self.exchange.monitor.execute(
            "SELECT state, count(*) FROM deliveries GROUP BY state"
        ).fetchall()
        assert counted == {state: count for state, count in rows}


@pytest.mark.parametrize("exchange", ["inline", "links_at_commit"], indirect=True)
def test_two_routers_keep_the_rules(exchange: Exchange) -> None:
    TwoRouters.exchange = exchange
    run_state_machine_as_test(
        TwoRouters,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
