"""Two routers on one PostgreSQL ledger, and a way to make their transactions meet.

A `Node` is what docex/router/service.py runs, without the broker: a `CommandHandler` on a
PostgreSQL session of its own, applying each batch of commands through `handle_batch` (one
transaction, a savepoint per command). Both nodes share one config, the exchange seal and one
clock, as routers of one exchange do. Commands are made as a unit's client makes them: real
envelopes under real seals (tests/documents.py), print requests under the verification seal.

`race` forces the interleaving in which two routers can decide on the same stale row: both
transactions begin and meet at a barrier; the first applies its command and, not yet
committed, lets the second start; the first commits only once the second is waiting for one of
its locks (`pg_blocking_pids`, as PostgreSQL's own isolation tester watches its sessions) or
has finished. With the guards in place the second waits and then reads what the first wrote;
without them it reads the row as it was before.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import msgspec
import psycopg

from docex import wire
from docex.config import Config
from docex.ids import uuid7
from docex.ledger.postgres import PostgresLedger
from docex.ledger.records import Delivery
from docex.router.handler import CommandHandler, Inbound, Verdict
from docex.router.metrics import Metrics
from docex.seals.verify import SealVerifier
from tests.conftest import FakeClock, Pki, amqp_user
from tests.documents import sealed_envelope, submit

V = wire.VERSION
# Long enough for a loaded machine, short enough that a harness bug fails rather than hangs.
TIMEOUT_S = 10.0
T = TypeVar("T")
U = TypeVar("U")


def _nothing() -> None:
    pass


class Session(PostgresLedger):
    """One router's database session, with points a race stops it at: just after its
    transaction began, just before it commits, and after it took a subject lock.

    `links_at_commit` upserts the units' `links` rows once per transaction, just before the
    commit, as SCALE.md D5 R4 plans. Today each command upserts its unit's row as it starts,
    and that row lock alone makes two routers take turns on the commands of one unit: with it
    the subject locks are never tested on such commands. Races between commands of one unit
    run both ways."""

    def __init__(self, url: str, *, links_at_commit: bool = False) -> None:
        self.began: Callable[[], None] = _nothing
        self.committing: Callable[[], None] = _nothing
        self.locked: Callable[[str], None] = lambda subject: None
        self.links_at_commit = links_at_commit
        self._heard: dict[str, tuple[str, bool]] = {}
        super().__init__(url)
        (self.pid,) = self._db.execute("SELECT pg_backend_pid()").fetchone()

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[None]:
        try:
            with super().transaction(durable):
                self.began()
                yield
                for unit, (at, heartbeat) in sorted(self._heard.items()):
                    super().heard_from(unit, at, heartbeat)
                self.committing()
        finally:
            self._heard.clear()

    def lock_subject(self, subject: str) -> None:
        super().lock_subject(subject)
        self.locked(subject)

    def heard_from(self, unit: str, at: str, heartbeat: bool) -> None:
        if not self.links_at_commit:
            super().heard_from(unit, at, heartbeat)
            return
        earlier = self._heard.get(unit)
        self._heard[unit] = (at, heartbeat or (earlier is not None and earlier[1]))


@dataclass(frozen=True)
class Command:
    """A command as it leaves a unit: who sent it, its message id, its bytes."""

    unit: str
    message_id: str
    body: bytes
    what: str

    def inbound(self, prefix: str) -> Inbound:
        return Inbound(self.message_id, amqp_user(prefix, self.unit), self.body)


@dataclass
class Node:
    name: str
    session: Session
    handler: CommandHandler


@dataclass
class Exchange:
    """Two routers on one ledger, the units that talk to them, and everything published."""

    nodes: tuple[Node, Node]
    observer: PostgresLedger
    monitor: psycopg.Connection[Any]
    pki: Pki
    prefix: str
    clock: FakeClock
    # (routing key, message) of every row published so far.
    published: list[tuple[str, wire.RouterMessage]] = field(default_factory=list)

    # Units' commands, made as docex/unit/client.py makes them.

    def submit(
        self,
        *,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        print_quota: dict[str, int] | None = None,
    ) -> tuple[Command, str]:
        envelope = sealed_envelope(
            self.pki.signing["gov-office"],
            to=["finance"] if to is None else to,
            cc=cc or [],
            print_quota=print_quota or {"finance": 3},
            now=self.clock.now(),
        )
        return self.command("gov-office", submit(envelope)), envelope.id

    def print_request(self, unit: str, doc_id: str, copies: int) -> Command:
        message_id = uuid7()
        request = wire.PrintRequest(v=V, doc_id=doc_id, copies=copies)
        seal = self.pki.verification[unit]
        stamp = wire.SealStamp(
            serial=seal.serial,
            alg="ed25519",
            cert=seal.certificate_der,
            sig=seal.sign(wire.print_request_bytes(request, unit, message_id)),
        )
        return self.command(unit, msgspec.structs.replace(request, seal=stamp), message_id)

    def receipt(self, unit: str, doc_id: str) -> Command:
        return self.command(unit, wire.Receipt(v=V, doc_id=doc_id, kind="read"))

    def withdraw(self, doc_id: str, recipients: list[str]) -> Command:
        return self.command("gov-office", wire.Withdraw(v=V, doc_id=doc_id, recipients=recipients))

    def return_(self, unit: str, doc_id: str) -> Command:
        return self.command(unit, wire.Return(v=V, doc_id=doc_id, reason="文号有误"))

    def resend_request(self, unit: str, doc_id: str) -> Command:
        return self.command(unit, wire.ResendRequest(v=V, doc_id=doc_id, reason="打印失败"))

    def resend(self, doc_id: str, recipient: str) -> Command:
        return self.command("gov-office", wire.Resend(v=V, doc_id=doc_id, recipient=recipient))

    def info(self, unit: str) -> Command:
        return self.command(
            unit, wire.Info(v=V, kind="report", title="专题报告", to=["gov-office"])
        )

    def command(self, unit: str, command: wire.Command, message_id: str = "") -> Command:
        return Command(unit, message_id or uuid7(), wire.encode(command), wire.type_name(command))

    # Running them.

    def apply(self, node: Node, *commands: Command) -> list[Verdict]:
        """One batch on one router, as its intake applies it."""
        return node.handler.handle_batch([command.inbound(self.prefix) for command in commands])

    def sent(self, node: Node | None = None, *, cc: list[str] | None = None) -> str:
        """A document from the General Office to Finance (3 copies to print), delivered (the
        broker confirmed it)."""
        node = node or self.nodes[0]
        command, doc_id = self.submit(cc=cc)
        assert self.apply(node, command) == [Verdict.ACK], self.answers(command)
        self.publish(node)
        return doc_id

    def publish(self, node: Node) -> None:
        """What the outbox publisher does once the broker confirmed every row it holds."""
        rows = node.session.outbox_batch(1_000_000)
        for row in rows:
            body = node.handler.render(row)
            if body is not None:
                self.published.append((row.routing_key, wire.decode_router_message(body)))
        with node.session.transaction(durable=False):
            node.handler.published(rows)

    def race(
        self,
        x: tuple[Node, Callable[[], T]],
        y: tuple[Node, Callable[[], U]],
        *,
        x_first: bool = True,
    ) -> tuple[T, U]:
        """`x` and `y` raced (`race`), `x` or `y` first; their results in that order."""
        (node_x, work_x), (node_y, work_y) = x, y
        if x_first:
            return race(self.monitor, (node_x.session, work_x), (node_y.session, work_y))
        result_y, result_x = race(self.monitor, (node_y.session, work_y), (node_x.session, work_x))
        return result_x, result_y

    def tick(self) -> None:
        """A minute later: a second receipt would carry another time."""
        self.clock.current += timedelta(minutes=1)

    # What came of them.

    def messages(self) -> list[tuple[str, wire.RouterMessage]]:
        """Everything the routers said, published or still in the outbox."""
        waiting = [
            (row.routing_key, wire.decode_router_message(row.body))
            for row in self.observer.outbox_batch(1_000_000)
            if row.body is not None
        ]
        return self.published + waiting

    def answers(self, command: Command) -> list[wire.RouterMessage]:
        return [
            message
            for key, message in self.messages()
            if key == command.unit and getattr(message, "ref", None) == command.message_id
        ]

    def answer(self, command: Command) -> wire.RouterMessage:
        """The one answer the command got."""
        answers = self.answers(command)
        assert len(answers) == 1, (command.what, answers)
        return answers[0]

    def internal_errors(self) -> list[wire.RouterMessage]:
        return [
            message
            for _, message in self.messages()
            if isinstance(message, wire.Status) and message.reason == "internal_error"
        ]

    def answered_twice(self) -> list[str]:
        refs = Counter(
            getattr(message, "ref", "")
            for _, message in self.messages()
            if isinstance(message, wire.Answer)
        )
        return [ref for ref, count in refs.items() if ref and count > 1]

    def delivery(self, doc_id: str, recipient: str = "finance") -> Delivery:
        delivery = self.observer.delivery(doc_id, recipient)
        assert delivery is not None
        return delivery

    def copies_granted(self, doc_id: str, recipient: str) -> list[int]:
        """Every copy number handed out for the delivery, in the order granted."""
        return [
            copy
            for key, message in self.messages()
            if key == recipient and isinstance(message, wire.PrintGrant)
            if message.doc_id == doc_id
            for copy in range(message.first_copy, message.last_copy + 1)
        ]

    def count(self, sql: str, *params: object) -> int:
        (count,) = self.monitor.execute(sql, params).fetchone() or (0,)
        return int(count)


def open_exchange(
    url: str, config: Config, pki: Pki, prefix: str, clock: FakeClock, links_at_commit: bool
) -> Exchange:
    verifier = SealVerifier.from_files(pki.ca_certificate)
    nodes = []
    for name in ("router-1", "router-2"):
        session = Session(url, links_at_commit=links_at_commit)
        # Each router keeps its own metrics registry (docex/router/metrics.py): no clash.
        handler = CommandHandler(session, config, verifier, pki.exchange, clock, Metrics(session))
        nodes.append(Node(name, session, handler))
    return Exchange(
        (nodes[0], nodes[1]),
        PostgresLedger(url, read_only=True),
        psycopg.connect(url, autocommit=True),
        pki,
        prefix,
        clock,
    )


def close_exchange(exchange: Exchange) -> None:
    for node in exchange.nodes:
        node.session.close()
    exchange.observer.close()
    exchange.monitor.close()


def race(
    monitor: psycopg.Connection[Any],
    first: tuple[Session, Callable[[], T]],
    second: tuple[Session, Callable[[], U]],
) -> tuple[T, U]:
    """Run `first` and `second`, each in its session's transaction on a thread of its own, with
    `second` reading while `first`'s writes are in flight (see the module's docstring)."""
    (a, work_a), (b, work_b) = first, second
    both_open = threading.Barrier(2, timeout=TIMEOUT_S)
    a_applied, b_finished = threading.Event(), threading.Event()

    def a_commits() -> None:
        a_applied.set()
        deadline = time.monotonic() + TIMEOUT_S
        while not b_finished.wait(0.001):
            if waits_for(monitor, b.pid, a.pid):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the second transaction neither waited nor finished")

    def b_begins() -> None:
        both_open.wait()
        if not a_applied.wait(TIMEOUT_S):
            raise TimeoutError("the first transaction never got to its commit")

    def run_a() -> T:
        try:
            return work_a()
        finally:
            a_applied.set()

    def run_b() -> U:
        try:
            return work_b()
        finally:
            b_finished.set()

    a.began, a.committing = both_open.wait, a_commits
    b.began, b.committing = b_begins, b_finished.set
    try:
        with ThreadPoolExecutor(2, thread_name_prefix="race") as pool:
            done_a, done_b = pool.submit(run_a), pool.submit(run_b)
            return done_a.result(TIMEOUT_S * 3), done_b.result(TIMEOUT_S * 3)
    finally:
        a.began = a.committing = b.began = b.committing = _nothing


def waits_for(monitor: psycopg.Connection[Any], waiting: int, holder: int) -> bool:
    """Whether session `waiting` is blocked on a lock that session `holder` holds."""
    row = monitor.execute("SELECT %s = ANY(pg_blocking_pids(%s))", (holder, waiting)).fetchone()
    return bool(row and row[0])


def in_transaction(node: Node, work: Callable[[], T]) -> Callable[[], T]:
    """`work` as a job of the router runs it: in a transaction of its own."""

    def run() -> T:
        with node.session.transaction():
            return work()

    return run


def orders(repetitions: int) -> Iterator[bool]:
    """Which of the two goes first, taking turns."""
    for index in range(repetitions):
        yield index % 2 == 0
