"""The cluster test (issue #14): three routers on one PostgreSQL ledger and a private
three-node RabbitMQ cluster, a stream of documents with receipts, prints and withdrawals, and,
mid-stream, a router killed with -9 (at 20%), the node leading the most intake queues killed
(at 40%), both started again (at 60%). Nothing may be lost, nothing may show twice, and every
invariant of the ledger must hold at the end.

The number of documents is DOCEX_CLUSTER_DOCUMENTS (5,000 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import msgspec
import pytest

from docex import topology, wire
from docex.config import load_config
from docex.ids import uuid7
from docex.ledger.open import open_ledger
from docex.topology import Names
from docex.unit.client import UnitClient
from tests.brokers import PrivateRabbit
from tests.conftest import (
    Broker,
    Pki,
    amqp_user,
    eventually,
    private_broker,
    provision_units,
    unit_settings,
    write_router_config,
)
from tests.documents import sealed_envelope, submit
from tests.edge.test_lifecycle import print_request
from tests.postgres import schema_url

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

DOCUMENTS = int(os.environ.get("DOCEX_CLUSTER_DOCUMENTS", "5000"))
SENDER, RECIPIENTS = "gov-office", ("finance", "education")


@pytest.fixture(scope="module")
def broker(rabbit_cluster: PrivateRabbit) -> Broker:
    return private_broker(rabbit_cluster)


@pytest.fixture(scope="module")
def broker_users(
    broker: Broker, prefix: str, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    directory = tmp_path_factory.mktemp("broker")
    provision_units(broker, prefix, pki, directory)
    return directory / "passwords"


class Seen:
    """Every copy the broker hands one unit, before any deduplication."""

    def __init__(self) -> None:
        self.copies: Counter[str] = Counter()  # by message id
        self.delivered: dict[str, int] = {}  # doc id -> order of first arrival
        self.news: dict[str, list[str]] = defaultdict(list)  # doc id -> states, in order
        self.answers: Counter[str] = Counter()  # distinct answers per command
        self.arrived = asyncio.Event()

    async def take(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        for item in wire.unpack(message.message_id or "", message.type or "", message.body):
            self._take(item.message_id, item.body)
        await message.ack()
        self.arrived.set()

    def _take(self, message_id: str, body: bytes) -> None:
        self.copies[message_id] += 1
        if self.copies[message_id] == 1:
            decoded = wire.decode_router_message(body)
            if isinstance(decoded, wire.Deliver):
                self.delivered.setdefault(decoded.envelope.id, len(self.delivered))
                self.news[decoded.envelope.id].append("deliver")
            elif isinstance(decoded, wire.Status):
                self.news[decoded.doc_id].append(decoded.state)
                if decoded.ref:
                    self.answers[decoded.ref] += 1
            elif isinstance(decoded, wire.Withdrawn):
                self.news[decoded.doc_id].append("withdrawn")
            elif isinstance(decoded, wire.PrintGrant | wire.PrintDenied | wire.WithdrawResult):
                self.answers[decoded.ref] += 1


def router_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "docex.cli", "router", "run", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@contextlib.contextmanager
def routers(configs: list[Path], logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    running = [router_process(config, logs / f"router-{i}.log") for i, config in enumerate(configs)]
    try:
        yield running
    finally:
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()


@contextlib.asynccontextmanager
async def watching(client: UnitClient, seen: Seen) -> AsyncIterator[None]:
    """Every message of the unit's queue to `seen`; the robust channel consumes again on the
    node it moves to."""
    assert client._queue is not None
    tag = await client._queue.consume(seen.take)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await client._queue.cancel(tag)


async def surely(client: UnitClient, command: wire.Command, message_id: str | None = None) -> None:
    """Publish until the broker confirms, as a unit must while a node fails: the same message
    id each time, so a repeat is recognised."""
    message_id = message_id or uuid7()
    async with asyncio.timeout(120):
        while True:
            try:
                await client.publish(command, message_id)
                return
            except Exception:
                await asyncio.sleep(0.5)


async def test_three_routers_lose_nothing_when_a_router_and_a_node_die(
    rabbit_cluster: PrivateRabbit,
    broker_users: Path,
    prefix: str,
    pki: Pki,
    postgres_database: str,
    tmp_path: Path,
) -> None:
    """§31 §35 §37 §38: 0 lost, 0 visible duplicates, quotas and copy numbers right, receipt
    times set once, every document's commands applied in order, across failures."""
    urls = [node.address for node in rabbit_cluster.nodes]
    with schema_url(postgres_database) as ledger_url:
        configs = []
        for i in range(3):
            path = write_router_config(
                tmp_path / f"router-{i}.toml", prefix, pki, ledger_url, urls[i]
            )
            others = ", ".join(f'"amqp://guest:guest@{urls[j]}/"' for j in range(3) if j != i)
            text = path.read_text().replace("[router]\n", f"[router]\namqp_urls = [{others}]\n", 1)
            path.write_text(text)
            configs.append(path)
        # As `docex units provision` and the first router would: the units' queues exist
        # before the units connect.
        config = load_config(configs[0])
        connection = await aio_pika.connect(f"amqp://guest:guest@{urls[0]}/")
        async with connection:
            await topology.declare(
                connection, Names(prefix), [u.id for u in config.units], config.router.intake_limit
            )
        clients: dict[str, UnitClient] = {}
        for unit in (SENDER, *RECIPIENTS):
            settings = unit_settings(prefix, pki, broker_users, unit, tmp_path, urls[0])
            password = settings.amqp_url.split(":")[2].split("@")[0]
            settings = msgspec.structs.replace(
                settings,
                amqp_urls=[
                    f"amqp://{amqp_user(prefix, unit)}:{password}@{url}/" for url in urls[1:]
                ],
            )
            clients[unit] = UnitClient(settings)
        seen = {unit: Seen() for unit in clients}
        with routers(configs, tmp_path) as running:
            async with contextlib.AsyncExitStack() as stack:
                for unit, client in clients.items():
                    await stack.enter_async_context(client)
                    await stack.enter_async_context(watching(client, seen[unit]))
                await run_traffic(
                    rabbit_cluster, running, configs, tmp_path, clients, seen, pki, prefix
                )
        check_ledger(ledger_url, seen)


async def run_traffic(
    rabbit: PrivateRabbit,
    running: list[subprocess.Popen[bytes]],
    configs: list[Path],
    logs: Path,
    clients: dict[str, UnitClient],
    seen: dict[str, Seen],
    pki: Pki,
    prefix: str,
) -> None:
    sender = clients[SENDER]
    sent: list[str] = []
    withdrawn: set[str] = set()
    killed_node = -1
    for number in range(DOCUMENTS):
        if number == DOCUMENTS // 5:
            running[2].kill()
        if number == 2 * DOCUMENTS // 5:
            killed_node = await asyncio.to_thread(busiest_leader, rabbit, prefix)
            await asyncio.to_thread(rabbit.kill, killed_node)
        if number == 3 * DOCUMENTS // 5:
            running[2] = router_process(configs[2], logs / "router-2.log")
            await asyncio.to_thread(rabbit.start_node, killed_node)
        envelope = sealed_envelope(
            pki.signing[SENDER],
            to=[RECIPIENTS[0]],
            cc=[RECIPIENTS[1]],
            print_quota={RECIPIENTS[0]: 2, RECIPIENTS[1]: 1},
            title=f"通知 {number}",
        )
        await surely(sender, submit(envelope))
        sent.append(envelope.id)
        if number % 10 == 3:
            await surely(sender, wire.Withdraw(v=wire.VERSION, doc_id=envelope.id))
            withdrawn.add(envelope.id)
        await act_on_arrivals(clients, seen, pki)
    expected = [doc for doc in sent if doc not in withdrawn]

    def all_arrived() -> bool | None:
        return all(set(expected) <= set(seen[unit].delivered) for unit in RECIPIENTS) or None

    await eventually(all_arrived, "every document not withdrawn reached both recipients", 600)
    # No copy was handed twice once deduplicated by message id; raw repeats are counted.
    for unit in RECIPIENTS:
        assert all(count >= 1 for count in seen[unit].copies.values())
        repeats = sum(count - 1 for count in seen[unit].copies.values())
        print(f"{unit}: {len(seen[unit].delivered)} documents, {repeats} raw broker repeats")
    for doc in sent:
        news = [state for state in seen[SENDER].news[doc] if state in ("accepted", "delivered")]
        if news:
            assert news[0] == "accepted", (doc, seen[SENDER].news[doc])
    for unit in RECIPIENTS:
        for doc, states in seen[unit].news.items():
            if "withdrawn" in states and "deliver" in states:
                assert states.index("deliver") < states.index("withdrawn"), (doc, states)


_acted: set[tuple[str, str]] = set()


async def act_on_arrivals(clients: dict[str, UnitClient], seen: dict[str, Seen], pki: Pki) -> None:
    """Recipients read and print what arrived (each document once), as clerks would."""
    for unit in RECIPIENTS:
        for doc, order in list(seen[unit].delivered.items()):
            if (unit, doc) in _acted:
                continue
            _acted.add((unit, doc))
            if order % 3 == 0:
                await surely(clients[unit], wire.Receipt(v=wire.VERSION, doc_id=doc, kind="read"))
            if order % 4 == 0:
                for _ in range(3):  # one more than finance's quota of 2
                    request, message_id = print_request(pki.verification[unit], unit, doc, 1)
                    await surely(clients[unit], request, message_id)


def busiest_leader(rabbit: PrivateRabbit, prefix: str) -> int:
    names = Names(prefix)
    leaders = Counter(rabbit.leader_of(names.intake_queue(unit)) for unit in (SENDER, *RECIPIENTS))
    return leaders.most_common(1)[0][0]


def check_ledger(url: str, seen: dict[str, Seen]) -> None:
    ledger = open_ledger(url, read_only=True)
    db = ledger.connection
    try:
        assert ledger.outbox_depth() == 0
        rows = db.execute(
            "SELECT doc_id, recipient, state, printed, print_quota, received_at FROM deliveries"
        ).fetchall()
        for doc, recipient, state, printed, quota, received_at in rows:
            assert printed <= quota, (doc, recipient, printed, quota)
            if state == "withdrawn":
                assert received_at is None and printed == 0, (doc, recipient)
        # Every command applied once: one row each, however often the broker redelivered it.
        (commands,) = db.execute("SELECT count(*) FROM commands").fetchone()
        (distinct,) = db.execute("SELECT count(DISTINCT (unit, id)) FROM commands").fetchone()
        assert commands == distinct
    finally:
        ledger.close()
    for unit, unit_seen in seen.items():
        twice = [ref for ref, count in unit_seen.answers.items() if count > 1]
        assert not twice, (unit, twice[:5])
