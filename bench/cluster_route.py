"""How docex routes with one router on SQLite and with 1, 2 and 3 routers sharing PostgreSQL.

For each body size this prints documents/s (throughput mode) and send→deliver p50/p99 at a
fixed rate, for each setup, and the CPU each process spent per document: every router, the
broker, PostgreSQL (the backends of this run's database and the server's shared WAL writer,
checkpointer and background writer), the driver, and everything else on the machine.

The routers are started as operators run them (`python -m docex.cli router run --config FILE`),
the same config for all of a setup's routers (docex/router/cluster.py): units are split into
`[router] partitions` (16) by a hash of the unit id; a router consumes the intake queues of the
units whose partitions it holds and publishes their outbox rows. So the traffic comes from
`--pairs` (8) sender units, each sending to its own recipient unit, whose ids are picked to fall
into distinct partitions: the best case for spreading. With one pair (two units) all traffic is
in two partitions, and a second or third router has nothing to do; the output says so.

Each setup starts from an empty ledger (a new SQLite file, or a new PostgreSQL database
`docex_bench_<hex>_<n>`, dropped at the end) and waits until its routers have shared the
partitions out before anything is timed. Everything else is as in route.py, whose helpers this
uses: a temp dir with a fresh CA and seals, a unique broker prefix, the units' broker users,
all removed at the end.

    .venv/bin/python bench/cluster_route.py            # full run, a few minutes
    .venv/bin/python bench/cluster_route.py --quick    # smoke run, under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiormq
import psycopg
import yarl
from aio_pika.abc import AbstractConnection, AbstractExchange

from docex import wire
from docex.ids import uuid7
from docex.ledger.postgres import PostgresLedger
from docex.router.cluster import partition_of as cluster_partition

# bench/ is not a package: route.py, beside this file, is imported as a module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import route
from route import BenchError, Cleanup, Document, Receiver, StatusWatch, Workspace

DEFAULT_PG_URL = "postgresql://docex_test:docex_test@127.0.0.1:5432/postgres"
PARTITIONS = 16  # the router's default `[router] partitions`; the config leaves it so
BALANCE_TIMEOUT_S = 60.0
POSTGRES_WRITERS = ("walwriter", "checkpointer", "background writer")


# The units: senders and recipients spread over the partitions.


def partition_of(unit_id: str) -> int:
    return cluster_partition(unit_id, PARTITIONS)


def pick_unit_ids(prefix: str, count: int, taken: set[int]) -> list[str]:
    """`count` ids `<prefix>-NN` in partitions not yet taken, while any are free."""
    ids: list[str] = []
    number = 0
    while len(ids) < count:
        number += 1
        candidate = f"{prefix}-{number:02d}"
        part = partition_of(candidate)
        if part in taken and len(taken) < PARTITIONS:
            continue
        taken.add(part)
        ids.append(candidate)
    return ids


@dataclass(frozen=True)
class Pairs:
    senders: list[str]
    recipients: list[str]  # recipients[i] receives what senders[i] sends

    @classmethod
    def spread(cls, count: int) -> Pairs:
        taken: set[int] = set()
        return cls(pick_unit_ids("sender", count, taken), pick_unit_ids("recipient", count, taken))

    @property
    def units(self) -> dict[str, str]:
        """Unit id → name, for route.set_up."""
        named = {unit: f"基准测试发文单位{unit[-2:]}" for unit in self.senders}
        named |= {unit: f"基准测试收文单位{unit[-2:]}" for unit in self.recipients}
        return named

    def partitions(self) -> set[int]:
        return {partition_of(unit) for unit in self.units}

    def describe(self) -> str:
        used = len(self.partitions())
        text = (
            f"{len(self.senders)} sender unit(s) → {len(self.recipients)} recipient unit(s), one"
            f" each, in {used} of {PARTITIONS} partitions"
        )
        if used <= 2:
            text += (
                f"; NOTE: all traffic is in {used} partitions, so a 2nd or 3rd router gets"
                " little or none of it: more routers cannot help (use --pairs 8)"
            )
        elif used < PARTITIONS:
            text += (
                f"; NOTE: traffic in only {used} partitions: how much a router does depends"
                " on which partitions it holds"
            )
        return text


# Setups and the processes to watch.


@dataclass(frozen=True)
class Setup:
    postgres: bool
    routers: int

    @property
    def label(self) -> str:
        return f"{'PostgreSQL' if self.postgres else 'SQLite'} x{self.routers}"


@dataclass
class Cluster:
    """The routers of one setup, and the database they share (None: SQLite)."""

    setup: Setup
    config_path: Path
    routers: list[subprocess.Popen[bytes]]
    logs: list[Path]
    database: str | None = None
    ownership: dict[int, list[int]] = field(default_factory=dict)  # router pid → partitions

    def owner(self, unit: str) -> int | None:
        """The pid of the router holding this unit's partition (None: not known)."""
        part = partition_of(unit)
        if len(self.routers) == 1:
            return self.routers[0].pid
        return next((pid for pid, parts in self.ownership.items() if part in parts), None)


def postgres_url(base: str, database: str) -> str:
    return str(yarl.URL(base).with_path(f"/{database}"))


def admin_connection(pg_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(pg_url, autocommit=True, connect_timeout=10)


def create_database(pg_url: str, name: str) -> None:
    with admin_connection(pg_url) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    # The schema is made here, once, before several routers start on the empty database.
    PostgresLedger(postgres_url(pg_url, name)).close()


def drop_database(pg_url: str, name: str) -> None:
    """Never raises: a failed drop is reported for the person to finish by hand."""
    try:
        with admin_connection(pg_url) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"cleanup: DROP DATABASE {name}: {exc}", file=sys.stderr)


def postgres_pids(pg_url: str, database: str) -> list[int]:
    """The server processes that work for this run: its database's backends (the routers'
    sessions) and the shared writers its commits go through (shared with other databases)."""
    with admin_connection(pg_url) as db:
        rows = db.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR backend_type = ANY(%s)",
            (database, list(POSTGRES_WRITERS)),
        ).fetchall()
    pids = [pid for (pid,) in rows if isinstance(pid, int)]
    return [pid for pid in pids if Path(f"/proc/{pid}/stat").exists()]


def cluster_config(workspace: Workspace, units: dict[str, str], ledger: str) -> Path:
    """route.py's router config with another ledger; everything else the same."""
    text = route.router_config(workspace.prefix, workspace.amqp_url, units, route.PREFETCH)
    default = 'ledger = "ledger.sqlite"'
    assert default in text, "route.router_config no longer names ledger.sqlite"
    path = workspace.directory / f"router-{ledger.rpartition('/')[2]}.toml"
    path.write_text(text.replace(default, f"ledger = {json.dumps(ledger)}"))
    return path


def start_routers(
    workspace: Workspace,
    setup: Setup,
    config_path: Path,
    args: argparse.Namespace,
    cleanup: Cleanup,
) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
    """`args.profile`: run each under cProfile, which writes its file when the router exits."""
    routers, logs = [], []
    for index in range(1, setup.routers + 1):
        tag = "pg" if setup.postgres else "sqlite"
        log = workspace.directory / f"router-{tag}{setup.routers}-{index}.log"
        command = [sys.executable]
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            command += ["-m", "cProfile", "-o", str(args.profile / f"{log.stem}.prof")]
        command += ["-m", "docex.cli", "--log-level", args.router_log_level]
        command += ["router", "run", "--config", str(config_path)]
        routers.append(route.start_worker(command, log, cleanup))
        logs.append(log)
    return routers, logs


async def consumer_count(admin: AbstractConnection, queue: str) -> int:
    channel = await admin.channel()
    try:
        declared = (await channel.declare_queue(queue, passive=True)).declaration_result
        return declared.consumer_count or 0
    except aiormq.exceptions.ChannelNotFoundEntity:
        return 0  # not declared yet
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


def ownership(url: str) -> dict[int, list[int]]:
    """Router pid → partitions, as each router last wrote in the `routers` table."""
    ledger = PostgresLedger(url, read_only=True)
    try:
        return {
            int(record.id.rpartition(":")[2]): sorted(record.partitions)
            for record in ledger.routers()
            if record.seen_ago_s < 10
        }
    finally:
        ledger.close()


def balanced(cluster: Cluster, owned: dict[int, list[int]]) -> bool:
    """Every router holds its share and every partition has exactly one holder."""
    pids = {router.pid for router in cluster.routers}
    if set(owned) != pids:
        return False
    share = math.ceil(PARTITIONS / len(pids))
    every = [part for parts in owned.values() for part in parts]
    return sorted(every) == list(range(PARTITIONS)) and all(
        len(parts) <= share for parts in owned.values()
    )


async def wait_until_ready(
    admin: AbstractConnection, workspace: Workspace, cluster: Cluster, pairs: Pairs, url: str | None
) -> None:
    """Ready: (PostgreSQL) the partitions are shared out, and every sender's intake queue has
    exactly one consumer (they are single-active-consumer; one router releasing a unit stops
    consuming before the next takes it)."""
    deadline = time.perf_counter() + BALANCE_TIMEOUT_S
    intake = [workspace.names.intake_queue(unit) for unit in pairs.senders]
    seen = "nothing yet"
    while True:
        for router, log in zip(cluster.routers, cluster.logs, strict=True):
            if (code := router.poll()) is not None:
                raise BenchError(f"router {router.pid} exited with {code}; see {log}")
        if url is not None:
            cluster.ownership = await asyncio.to_thread(ownership, url)
            seen = f"partitions {cluster.ownership}"
        if url is None or balanced(cluster, cluster.ownership):
            counts = [await consumer_count(admin, queue) for queue in intake]
            if all(count == 1 for count in counts):
                return
            seen = f"intake consumers {counts}"
        if time.perf_counter() > deadline:
            raise BenchError(
                f"{cluster.setup.label}: not ready within {BALANCE_TIMEOUT_S:.0f} s; {seen}"
            )
        await asyncio.sleep(0.25)


def describe_ownership(cluster: Cluster, pairs: Pairs) -> str:
    parts = []
    for number, router in enumerate(cluster.routers, 1):
        owned = set(cluster.ownership.get(router.pid, range(PARTITIONS)))
        senders = sum(partition_of(unit) in owned for unit in pairs.senders)
        recipients = sum(partition_of(unit) in owned for unit in pairs.recipients)
        parts.append(
            f"router {number}: {len(owned)} partitions, {senders} senders' intake,"
            f" {recipients} recipients' outbox"
        )
    return "; ".join(parts)


# CPU: seconds per process group between two readings.


def cpu_seconds(pid: int) -> float:
    """0 for a process that has gone (a PostgreSQL backend that ended, say)."""
    try:
        return route.process_cpu_seconds(pid)
    except (OSError, IndexError):
        return 0.0


class Meter:
    """CPU seconds spent between `__init__` and `read()` by each group of processes, by this
    driver, and by the whole machine (so `other` = what none of ours used)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.start = {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids}
        self.driver = time.process_time()
        self.machine = route.machine_cpu_seconds()[0]

    def read(self) -> dict[str, float]:
        spent = {
            name: sum(max(0.0, cpu_seconds(pid) - self.start[pid]) for pid in pids)
            for name, pids in self.groups.items()
        }
        spent["driver"] = time.process_time() - self.driver
        machine = route.machine_cpu_seconds()[0] - self.machine
        spent["other"] = max(0.0, machine - sum(spent.values()))
        return spent


@dataclass(frozen=True)
class Result:
    setup: Setup
    size: int
    mode: str  # "throughput" or "rate"
    count: int
    elapsed: float  # first send to last arrival
    latencies: list[float]  # sorted, seconds
    max_lag: float
    cpu: dict[str, float]  # seconds: "router 1".., "broker", "postgres", "driver", "other"
    # Latencies of the documents whose sender and recipient are held by different routers.
    crossing: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed

    def percentile(self, q: float, crossing: bool = False) -> float:
        """Nearest rank; `crossing`: of the documents that went from one router to another."""
        latencies = self.crossing if crossing else self.latencies
        if not latencies:
            return math.nan
        rank = max(1, math.ceil(q / 100 * len(latencies)))
        return latencies[rank - 1]

    def ms_per_doc(self, name: str) -> float:
        return self.cpu[name] * 1000 / self.count

    @property
    def router_names(self) -> list[str]:
        return [name for name in self.cpu if name.startswith("router")]


# The driver: documents from every sender, each published under its own unit's user.


@dataclass(frozen=True)
class Outgoing:
    sender: str
    document: Document


@dataclass
class Endpoints:
    """The driver's side of the units: where each sender publishes, what arrives."""

    exchanges: dict[str, tuple[AbstractExchange, str]]  # sender → (its `.in`, its user)
    receiver: Receiver
    statuses: StatusWatch
    arrivals: dict[str, float]  # envelope id → when it reached its recipient


async def connect_units(
    stack: contextlib.AsyncExitStack, workspace: Workspace, pairs: Pairs
) -> Endpoints:
    names = workspace.names
    arrivals: dict[str, float] = {}

    def key_of(body: bytes) -> str:
        """route.router_key, noting each arrival by key (Receiver keeps latencies only)."""
        key = route.router_key(body)
        arrivals[key] = time.perf_counter()
        return key

    receiver, statuses = Receiver(key_of), StatusWatch()
    exchanges = {}
    for sender in pairs.senders:
        connection = await stack.enter_async_context(
            await aio_pika.connect(workspace.unit_url(sender))
        )
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.inbound(sender), ensure=False)
        exchanges[sender] = (exchange, workspace.unit_user(sender))
        status_channel = await connection.channel()
        await status_channel.set_qos(prefetch_count=1000)
        queue = await status_channel.get_queue(names.unit_queue(sender))
        await queue.consume(statuses.on_message, no_ack=True)
    for recipient in pairs.recipients:
        connection = await stack.enter_async_context(
            await aio_pika.connect(workspace.unit_url(recipient))
        )
        await route.consume(connection, names.unit_queue(recipient), receiver)
    return Endpoints(exchanges, receiver, statuses, arrivals)


def seal_for_pairs(workspace: Workspace, pairs: Pairs, size: int, count: int) -> list[Outgoing]:
    """`count` documents, taking the pairs in turn."""
    per_pair = [
        seal_pair(workspace, sender, recipient, size, math.ceil(count / len(pairs.senders)))
        for sender, recipient in zip(pairs.senders, pairs.recipients, strict=True)
    ]
    interleaved = [item for group in zip(*per_pair, strict=True) for item in group]
    return interleaved[:count]


def seal_pair(
    workspace: Workspace, sender: str, recipient: str, size: int, count: int
) -> list[Outgoing]:
    documents = route.seal_documents(workspace.seals[sender], size, count, sender, recipient)
    return [Outgoing(sender, document) for document in documents]


class Driver:
    def __init__(
        self,
        admin: AbstractConnection,
        endpoints: Endpoints,
        window: int,
        queues: list[str],
        recipients: dict[str, str],
    ) -> None:
        self.recipients = recipients  # sender → its recipient
        self.admin = admin
        self.endpoints = endpoints
        self.window = window
        self.queues = queues  # to show their depths when a run times out

    async def run(
        self,
        cluster: Cluster,
        groups: dict[str, list[int]],
        outgoing: Sequence[Outgoing],
        size: int,
        rate: float | None,
    ) -> Result:
        """rate None: as fast as `window` outstanding confirms allow; else a fixed rate."""
        receiver, statuses = self.endpoints.receiver, self.endpoints.statuses
        receiver.expect(item.document.key for item in outgoing)
        statuses.expect(2 * len(outgoing))
        window = asyncio.Semaphore(self.window)
        failures: list[str] = []
        in_flight: set[asyncio.Task[None]] = set()

        def settled(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            window.release()
            if not task.cancelled() and (exc := task.exception()) is not None:
                failures.append(repr(exc))

        timeout = 30.0 + len(outgoing) / (50 if rate is None else rate)
        meter = Meter(groups)
        pacer = route.Pacer(rate)
        start = pacer.start
        deadline = start + timeout
        try:
            for index, item in enumerate(outgoing):
                await pacer.turn(index)
                await window.acquire()
                self._check(cluster, failures)
                if time.perf_counter() > deadline:
                    raise BenchError(await self._describe(cluster, len(outgoing), timeout))
                receiver.sent[item.document.key] = time.perf_counter()
                task = asyncio.create_task(self._publish(item))
                in_flight.add(task)
                task.add_done_callback(settled)
            for event in (receiver.done, statuses.done):
                while not event.is_set():
                    self._check(cluster, failures)
                    if time.perf_counter() > deadline:
                        raise BenchError(await self._describe(cluster, len(outgoing), timeout))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), 0.25)
        finally:
            for task in list(in_flight):
                task.cancel()
        cpu = meter.read()
        arrivals, sent = self.endpoints.arrivals, receiver.sent
        crossing = sorted(
            arrivals[item.document.key] - sent[item.document.key]
            for item in outgoing
            if cluster.owner(item.sender) != cluster.owner(self.recipients[item.sender])
        )
        expected = Counter({"accepted": len(outgoing), "delivered": len(outgoing)})
        if statuses.states != expected:
            raise BenchError(f"expected {expected}; the senders got {statuses.states}")
        return Result(
            setup=cluster.setup,
            size=size,
            mode="throughput" if rate is None else "rate",
            count=len(outgoing),
            elapsed=receiver.last_arrival - start,
            latencies=sorted(receiver.latencies),
            max_lag=pacer.max_lag,
            cpu=cpu,
            crossing=crossing,
        )

    async def _publish(self, item: Outgoing) -> None:
        """As route.py's driver (and a unit's client): persistent, mandatory, confirmed."""
        exchange, user_id = self.endpoints.exchanges[item.sender]
        confirmation = await exchange.publish(
            aio_pika.Message(
                item.document.body,
                message_id=uuid7(),
                user_id=user_id,
                type="submit",
                content_type=wire.CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="",
            mandatory=True,
            timeout=15.0,
        )
        if not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise BenchError(f"{item.sender}: publish not confirmed (returned unroutable?)")

    def _check(self, cluster: Cluster, failures: list[str]) -> None:
        for router, log in zip(cluster.routers, cluster.logs, strict=True):
            if (code := router.poll()) is not None:
                raise BenchError(f"router {router.pid} exited with {code}; see {log}")
        if failures:
            raise BenchError(f"{len(failures)} publishes failed: {failures[0]}")
        if rejections := self.endpoints.statuses.rejections:
            raise BenchError(f"{len(rejections)} documents rejected, first: {rejections[0]}")
        if errors := self.endpoints.receiver.errors:
            raise BenchError(f"unreadable arrival: {errors[0]}")

    async def _describe(self, cluster: Cluster, count: int, timeout: float) -> str:
        receiver = self.endpoints.receiver
        lines = [
            f"{cluster.setup.label}: not done within {timeout:g} s",
            f"  sent {len(receiver.sent)} of {count}, missing {len(receiver.pending)},"
            f" senders got {dict(self.endpoints.statuses.states)}",
        ]
        depths = await route.queue_depths(self.admin, self.queues)
        lines += [f"  queue {name}: {depth}" for name, depth in depths.items()]
        return "\n".join(lines)


# The plan and the run.


@dataclass(frozen=True)
class Plan:
    sizes: list[int]
    counts: dict[int, int]
    rate: float
    duration: float
    warmup: int
    window: int
    setups: list[Setup]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        sizes = [int(size) for size in args.sizes.split(",")]

        def default_count(size: int) -> int:
            if args.quick:
                return 100 if size < 65536 else 60
            return 3000 if size < 65536 else 1500

        setups = [] if args.no_sqlite else [Setup(postgres=False, routers=1)]
        setups += [Setup(postgres=True, routers=int(n)) for n in args.routers.split(",")]
        return cls(
            sizes=sizes,
            counts={size: args.count or default_count(size) for size in sizes},
            rate=args.rate,
            duration=args.duration or (0.5 if args.quick else 10.0),
            warmup=args.warmup if args.warmup is not None else (8 if args.quick else 100),
            window=args.window,
            setups=setups,
        )


async def measure_setup(
    workspace: Workspace,
    cluster: Cluster,
    plan: Plan,
    pairs: Pairs,
    broker: int | None,
    pg_url: str,
) -> list[Result]:
    names = workspace.names
    url = postgres_url(pg_url, cluster.database) if cluster.database else None
    async with contextlib.AsyncExitStack() as stack:
        admin = await stack.enter_async_context(await aio_pika.connect(workspace.amqp_url))
        started = time.perf_counter()
        await wait_until_ready(admin, workspace, cluster, pairs, url)
        print(
            f"{cluster.setup.label}: ready after {time.perf_counter() - started:.1f} s;"
            f" {describe_ownership(cluster, pairs)}",
            flush=True,
        )
        endpoints = await connect_units(stack, workspace, pairs)
        queues = [names.intake_queue(unit) for unit in pairs.senders]
        queues += [names.unit_queue(unit) for unit in pairs.recipients] + [names.dead_queue]
        recipients = dict(zip(pairs.senders, pairs.recipients, strict=True))
        driver = Driver(admin, endpoints, plan.window, queues, recipients)
        results = []
        for size in plan.sizes:
            warmup = seal_for_pairs(workspace, pairs, size, plan.warmup)
            bulk = seal_for_pairs(workspace, pairs, size, plan.counts[size])
            paced = seal_for_pairs(workspace, pairs, size, max(1, round(plan.rate * plan.duration)))
            if warmup:
                await driver.run(cluster, {}, warmup, size, rate=None)
            for outgoing, rate in ((bulk, None), (paced, plan.rate)):
                # Read anew each run: a router may have opened another session meanwhile.
                groups = {
                    f"router {number}": [router.pid]
                    for number, router in enumerate(cluster.routers, 1)
                }
                groups["broker"] = [broker] if broker else []
                if cluster.database:
                    groups["postgres"] = postgres_pids(pg_url, cluster.database)
                result = await driver.run(cluster, groups, outgoing, size, rate)
                print(progress_line(result), flush=True)
                results.append(result)
        return results


def run_setup(
    workspace: Workspace,
    setup: Setup,
    number: int,
    plan: Plan,
    pairs: Pairs,
    args: argparse.Namespace,
    cleanup: Cleanup,
    databases: list[str],
    broker: int | None,
) -> list[Result]:
    database = None
    if setup.postgres:
        database = f"docex_bench_{workspace.prefix.removeprefix('bench')}_{number}"
        databases.append(database)  # recorded first: creating it may fail halfway
        create_database(args.pg_url, database)
        config_path = cluster_config(workspace, pairs.units, postgres_url(args.pg_url, database))
    else:
        config_path = workspace.config_path  # route.set_up made its SQLite ledger
    routers, logs = start_routers(workspace, setup, config_path, args, cleanup)
    cluster = Cluster(setup, config_path, routers, logs, database)
    try:
        return asyncio.run(measure_setup(workspace, cluster, plan, pairs, broker, args.pg_url))
    except BenchError:
        for log in logs:
            print(f"{log.name} (tail):\n{route.log_tail(log, 10)}", file=sys.stderr)
        raise
    finally:
        for router in routers:
            route.stop_worker(router)
        if database is not None:
            drop_database(args.pg_url, database)
            databases.remove(database)


# Reporting.


def progress_line(result: Result) -> str:
    what = "throughput" if result.mode == "throughput" else f"{result.count} at fixed rate"
    cpu = ", ".join(f"{name} {result.ms_per_doc(name):.2f}" for name in result.cpu)
    if result.crossing and len(result.crossing) < result.count:
        cpu += (
            f"; {len(result.crossing)} crossing routers: p50"
            f" {route.ms(result.percentile(50, crossing=True))} ms"
        )
    return (
        f"  {route.human_size(result.size):>6} {result.setup.label:<13} {what:<18}"
        f" {result.per_second:6.0f}/s  p50 {route.ms(result.percentile(50)):>6} ms"
        f"  p99 {route.ms(result.percentile(99)):>6} ms  CPU ms/doc: {cpu}"
    )


def report(plan: Plan, pairs: Pairs, results: list[Result], load: tuple[float, float]) -> None:
    print()
    print(
        f"machine: {os.cpu_count()} cores ({route.cpu_model()}); load average (1 min)"
        f" {load[0]:.2f} before, {load[1]:.2f} after"
    )
    print(f"units: {pairs.describe()}")
    print(
        f"routers: `python -m docex.cli router run`, prefetch {route.PREFETCH}, P={PARTITIONS};"
        f" driver window {plan.window}; fixed rate {plan.rate:.0f}/s for {plan.duration:g} s"
    )
    print(
        "CPU: ms per document in the throughput run, per router and their sum; pg: this"
        " database's backends and the server's WAL writer, checkpointer and background writer;"
        " other: the rest of the machine"
    )
    print()
    header = (
        f"{'setup':<13} {'size':>6} {'docs/s':>7} {'at rate':>7} {'p50 / p99 ms':>17}"
        f"  {'cross':>6}  "
        f"{'routers (each)':<16} {'sum':>5} {'broker':>6} {'pg':>5} {'driver':>6} {'other':>5}"
    )
    print(header)
    print("-" * len(header))
    by_key = {(r.setup, r.size, r.mode): r for r in results}
    saturated = lagging = False
    for size in plan.sizes:
        for setup in plan.setups:
            bulk, paced = by_key.get((setup, size, "throughput")), by_key.get((setup, size, "rate"))
            if bulk is None or paced is None:
                continue
            each = " ".join(f"{bulk.ms_per_doc(name):.2f}" for name in bulk.router_names)
            routers = sum(bulk.ms_per_doc(name) for name in bulk.router_names)
            pg = f"{bulk.ms_per_doc('postgres'):.2f}" if "postgres" in bulk.cpu else "-"
            latency = f"{route.ms(paced.percentile(50))} / {route.ms(paced.percentile(99))}"
            cross = route.ms(paced.percentile(50, crossing=True)) if paced.crossing else "-"
            mark = ""
            if paced.per_second < 0.95 * plan.rate:
                mark, saturated = "!", True
            elif paced.max_lag > 0.010:
                mark, lagging = "*", True
            print(
                f"{setup.label:<13} {route.human_size(size):>6} {bulk.per_second:>7.0f}"
                f" {paced.per_second:>7.0f} {latency:>17}{mark:<1} {cross:>6}"
                f"  {each:<16} {routers:>5.2f}"
                f" {bulk.ms_per_doc('broker'):>6.2f} {pg:>5} {bulk.ms_per_doc('driver'):>6.2f}"
                f" {bulk.ms_per_doc('other'):>5.2f}"
            )
    print(
        f"  docs/s: throughput run; at rate: documents / (first send → last arrival) at"
        f" {plan.rate:.0f}/s; p50 / p99: send → deliver at that rate; cross: its p50 of the"
        " documents whose sender and recipient are held by different routers"
    )
    if saturated:
        print(
            f"  ! under 95% of {plan.rate:.0f}/s got through: a backlog grew (or, in a short run,"
            " one wait dominates), so that latency is mostly time queued"
        )
    if lagging:
        print("  * the driver fell more than 10 ms behind its schedule in the fixed-rate run")
    print()
    print(
        f"NOTE: {os.cpu_count()} shared cores run the driver, the broker, PostgreSQL and every"
        " router: more routers only divide the same CPU, so these scaling figures are"
        " meaningless here (/work/shared/SCALE.md §4); read them for errors and CPU/doc only."
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="docs/s and send→deliver latency: 1 router on SQLite, N on PostgreSQL."
    )
    parser.add_argument(
        "--count", type=int, help="documents per throughput run (3000 below 64 KiB, else 1500)"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="docs/s, fixed-rate run (200)")
    parser.add_argument("--duration", type=float, help="seconds of the fixed-rate run (10)")
    parser.add_argument("--sizes", default="1024,65536", help="body sizes in bytes (1024,65536)")
    parser.add_argument("--pairs", type=int, help="sender→recipient unit pairs (8; 4 with --quick)")
    parser.add_argument(
        "--routers", default="1,2,3", help="router counts on PostgreSQL, comma-separated (1,2,3)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite setup")
    parser.add_argument("--quick", action="store_true", help="small counts, 0.5 s at fixed rate")
    parser.add_argument("--warmup", type=int, help="unmeasured documents per size and setup (100)")
    parser.add_argument("--window", type=int, default=500, help="unconfirmed publishes (500)")
    parser.add_argument("--amqp-url", default=route.DEFAULT_AMQP_URL, help="an administrator's")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a role that may create databases")
    parser.add_argument(
        "--router-log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, ledger)")
    parser.add_argument(
        "--profile", type=Path, help="run the routers under cProfile, writing DIR/router-*.prof"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan.from_args(args)
    pairs = Pairs.spread(args.pairs or (4 if args.quick else 8))
    cleanup = Cleanup(f"bench{secrets.token_hex(5)}", args.amqp_url, keep_dir=args.keep)
    databases: list[str] = []
    load_before = os.getloadavg()[0]
    print(f"run {cleanup.prefix}: {pairs.describe()}")
    print("setting up a CA, seals and broker users…", flush=True)
    results: list[Result] = []
    try:
        started = time.perf_counter()
        workspace = route.set_up(cleanup, pairs.units)
        if workspace.config.router.partitions != PARTITIONS:
            raise BenchError(f"the router's default partitions is no longer {PARTITIONS}")
        print(f"set up in {time.perf_counter() - started:.1f} s", flush=True)
        broker = route.broker_pid()
        for number, setup in enumerate(plan.setups, 1):
            results += run_setup(
                workspace, setup, number, plan, pairs, args, cleanup, databases, broker
            )
        report(plan, pairs, results, (load_before, os.getloadavg()[0]))
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        for database in databases:
            drop_database(args.pg_url, database)
        cleanup.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
