"""Random sequences of lifecycle commands against a real router, checking invariants each step.

Hypothesis drives a synchronous state machine; the router and the unit clients live on an
event loop in a background thread, and each step waits for the answer to its command.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from docex import wire
from docex.config import Config
from docex.ids import uuid7
from docex.ledger.open import open_ledger
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory
from tests.documents import sealed_envelope, submit
from tests.edge.test_lifecycle import print_request

T = TypeVar("T")
V = wire.VERSION
RECIPIENTS = ["finance", "education"]


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class Harness:
    def __init__(
        self, loop: LoopThread, units: dict[str, UnitClient], pki: Pki, ledger: str | Path
    ):
        self.loop = loop
        self.units = units
        self.pki = pki
        self.ledger = open_ledger(ledger, read_only=True).connection
        self.answered: list[tuple[str, str]] = []

    def command(
        self, unit: str, command: wire.Command, message_id: str | None = None
    ) -> wire.Answer:
        client = self.units[unit]

        message_id = message_id or uuid7()
        answer = self.loop.run(client.request(command, timeout=15, message_id=message_id))
        self.answered.append((unit, message_id))
        return answer

    def rows(self) -> dict[tuple[str, str], tuple[str, int, int, str | None]]:
        return {
            (doc, recipient): (state, printed, quota, received_at)
            for doc, recipient, state, printed, quota, received_at in self.ledger.execute(
                "SELECT doc_id, recipient, state, printed, print_quota, received_at FROM deliveries"
            ).fetchall()
        }


@pytest.fixture
def harness(
    config: Config,
    clock: FakeClock,
    unit_client_for: UnitClientFactory,
    pki: Pki,
    empty_queues: None,
) -> Iterator[Harness]:
    loop = LoopThread()

    async def start() -> tuple[Router, dict[str, UnitClient]]:
        running = Router(config, clock)
        await running.start()
        clients = {u: unit_client_for(u) for u in ["gov-office", *RECIPIENTS]}
        for client in clients.values():
            await client.__aenter__()
        return running, clients

    router, clients = loop.run(start())
    try:
        yield Harness(loop, clients, pki, config.router.ledger)
    finally:

        async def stop() -> None:
            for client in clients.values():
                await client.__aexit__(None, None, None)
            await router.stop(flush_timeout=2)

        loop.run(stop())
        loop.stop()


class Lifecycle(RuleBasedStateMachine):
    """§34–§38 as random play: invariants hold after every command."""

    harness: Harness
    documents = Bundle("documents")

    def __init__(self) -> None:
        super().__init__()
        self.received_at: dict[tuple[str, str], str] = {}
        self.withdrawn: set[tuple[str, str]] = set()
        self.returned: set[tuple[str, str]] = set()

    @rule(target=documents, finance_quota=st.integers(0, 3), education_quota=st.integers(0, 2))
    def send(self, finance_quota: int, education_quota: int) -> str:
        envelope = sealed_envelope(
            self.harness.pki.signing["gov-office"],
            to=["finance"],
            cc=["education"],
            print_quota={"finance": finance_quota, "education": education_quota},
        )
        answer = self.harness.command("gov-office", submit(envelope))
        assert isinstance(answer, wire.Status) and answer.state == "accepted"
        return envelope.id

    @rule(doc=documents, unit=st.sampled_from(RECIPIENTS), copies=st.integers(-1, 3))
    def print_copies(self, doc: str, unit: str, copies: int) -> None:
        request, message_id = print_request(self.harness.pki.verification[unit], unit, doc, copies)
        answer = self.harness.command(unit, request, message_id)
        assert isinstance(answer, wire.PrintGrant | wire.PrintDenied | wire.Status)
        if isinstance(answer, wire.PrintGrant):
            assert answer.last_copy - answer.first_copy + 1 == copies

    @rule(
        doc=documents,
        unit=st.sampled_from(RECIPIENTS),
        kind=st.sampled_from(["read", "downloaded"]),
    )
    def receipt(self, doc: str, unit: str, kind: str) -> None:
        self.harness.command(unit, wire.Receipt(v=V, doc_id=doc, kind=kind))  # type: ignore[arg-type]

    @rule(doc=documents, unit=st.sampled_from(RECIPIENTS))
    def return_it(self, doc: str, unit: str) -> None:
        self.harness.command(unit, wire.Return(v=V, doc_id=doc, reason="有误"))

    @rule(doc=documents, unit=st.sampled_from(RECIPIENTS))
    def ask_for_resend(self, doc: str, unit: str) -> None:
        self.harness.command(unit, wire.ResendRequest(v=V, doc_id=doc, reason="失败"))

    @rule(doc=documents, unit=st.sampled_from(RECIPIENTS))
    def resend(self, doc: str, unit: str) -> None:
        self.harness.command("gov-office", wire.Resend(v=V, doc_id=doc, recipient=unit))

    @rule(doc=documents, unit=st.sampled_from(RECIPIENTS), copies=st.integers(1, 2))
    def grant_copies(self, doc: str, unit: str, copies: int) -> None:
        self.harness.command(
            "gov-office", wire.QuotaGrant(v=V, doc_id=doc, recipient=unit, copies=copies)
        )

    @rule(doc=documents, recipients=st.lists(st.sampled_from(RECIPIENTS), unique=True))
    def withdraw(self, doc: str, recipients: list[str]) -> None:
        self.harness.command("gov-office", wire.Withdraw(v=V, doc_id=doc, recipients=recipients))

    @invariant()
    def the_state_counts_match_the_deliveries(self) -> None:
        """The metrics' counts per state, kept by triggers, never drift from the rows."""
        if not hasattr(self, "harness"):
            return
        counted = dict(self.harness.ledger.execute("SELECT state, count FROM delivery_states"))
        actual = collections.Counter(state for state, *_ in self.harness.rows().values())
        assert {state: n for state, n in counted.items() if n} == dict(actual)

    @invariant()
    def deliveries_obey_the_rules(self) -> None:
        if not hasattr(self, "harness"):
            return
        for key, (state, printed, quota, received_at) in self.harness.rows().items():
            assert 0 <= printed <= quota, (key, printed, quota)
            if key in self.received_at:
                assert received_at == self.received_at[key], "receipt time changed"
            elif received_at is not None:
                assert key not in self.withdrawn | self.returned, "received after withdraw/return"
                self.received_at[key] = received_at
            if key in self.withdrawn:
                assert state == "withdrawn", "a withdrawn document came back"
            if key in self.returned and state != "returned":
                assert state in ("queued", "delivered"), "only a resend brings a return back"
                self.returned.discard(key)
            if state == "withdrawn":
                self.withdrawn.add(key)
            if state == "returned":
                self.returned.add(key)


@pytest.mark.sqlite_only  # on PostgreSQL: tests/ledger/test_races*.py drive two routers instead
def test_lifecycle_invariants(harness: Harness) -> None:
    """§34, §35, §37, §38: printed ≤ quota, receipt time set once, every command one answer."""
    Lifecycle.harness = harness
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

    async def answers_per_command() -> dict[tuple[str, str], int]:
        counts = {}
        for unit, message_id in harness.answered:
            client = harness.units[unit]
            await client.drain()
            counts[(unit, message_id)] = client.mailbox.answer_count(message_id)
        return counts

    counts = harness.loop.run(answers_per_command(), timeout=60)
    assert counts and set(counts.values()) == {1}
