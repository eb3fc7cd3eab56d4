"""How long a circular takes: one document to every unit of the exchange at once.

Issue #19: a circular to 2,000 units must be accepted, and every one of its deliveries
published, within 2 s. One router is started as `route.py` starts it, with `--units`
recipient units configured beside the sending unit; the sender submits one document addressed
to all of them (each in `to`, print quota 1) and the bench prints, per repetition:

- accepted: publish → the sender's `accepted` answer;
- published: publish → the router's outbox empty again, i.e. every delivery (and every answer)
  confirmed by the broker. Read from the ledger itself (`SELECT count(*) FROM outbox`, the
  query behind the router's `docex_outbox_depth`, on a read-only SQLite connection) every
  `--poll` seconds: a scrape of /metrics would run on the router's event loop and a passive
  declare of every queue is a broker round trip per unit, both costing more than they tell;
- answered: publish → the last of the sender's `delivered` answers. The router writes each
  only once the broker confirmed that delivery, so this too says every delivery was published
  (it does not wait for the answers' own confirms, as `published` does), and costs nothing;
- the router's CPU (and the broker's) from publish to answered, its RSS after each.

The first circular after the router declared the units' queues is a warm-up (`--warmup`),
printed but not judged: the broker's first write to each fresh quorum queue costs it about
1 ms of CPU per queue (2,000–3,500 ms for 2,000 queues, measured; a circular 90 s later is as
fast as the next one), a cost an exchange pays once per queue, not per circular.

Only the sender has a broker user: the recipients never connect, their queues (declared by
the router) just hold what reached them, and a count of them after each repetition checks that
every unit got exactly one delivery per repetition. Everything made is removed at the end,
including after a failure or Ctrl-C. It runs on a private RabbitMQ node that it starts, with the
open files its units need, and removes (tests/brokers.py), since each unit is two quorum queues:
thousands of them never land on the machine's own broker. `--amqp-url` picks another broker.

    .venv/bin/python bench/circular.py               # 2,000 units, 3 repetitions
    .venv/bin/python bench/circular.py --units 50    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import aiormq
import yarl
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from docex import wire
from docex.ids import uuid7
from docex.router import provision
from docex.router.provision import SYSTEM_RABBITMQCTL
from docex.unit.compose import apply_seal, compose

# bench/ is not a package: route.py, beside this file, is imported as a module; the private
# RabbitMQ nodes are those the tests start (tests/brokers.py).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import route
from route import (
    PDF_HEADER,
    SENDER,
    BenchError,
    Cleanup,
    CpuMeter,
    Document,
    StatusWatch,
    Workspace,
)

from tests.brokers import BrokerError
from tests.brokers import running as private_broker

TARGET_S = 2.0
# The router's default `[exchange] max_recipients`: a circular to more needs that raised.
MAX_RECIPIENTS = 5000


def recipients(count: int) -> dict[str, str]:
    return {f"unit{n:04d}": f"基准测试收文单位{n:04d}" for n in range(1, count + 1)}


def seal_circular(workspace: Workspace, to: list[str], size: int) -> Document:
    """Sealed before the clock starts, as in route.py: the sender's cost, not the router's."""
    now = datetime.now(UTC)
    envelope = compose(
        PDF_HEADER + os.urandom(max(0, size - len(PDF_HEADER))),
        sender=SENDER,
        to=to,
        cc=[],
        print_quota=dict.fromkeys(to, 1),
        title="关于基准测试的通知（通函）",
        doc_no=f"基准〔2026〕{secrets.randbelow(10**6)}号",
        format="pdf",
        now=now,
    )
    sealed = apply_seal(envelope, workspace.sender_seal, sealed_by="基准测试", now=now)
    return Document(sealed.id, wire.encode(wire.Submit(v=wire.VERSION, envelope=sealed)))


class Answers(StatusWatch):
    """The sender's answers, with when the `accepted` and the last of them arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted_at: float | None = None
        self.all_at: float | None = None

    def expect(self, count: int) -> None:
        super().expect(count)
        self.accepted_at = self.all_at = None

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        await super().on_message(message)
        now = time.perf_counter()
        if self.accepted_at is None and self.states["accepted"]:
            self.accepted_at = now
        if self.all_at is None and self.done.is_set():
            self.all_at = now


@dataclass(frozen=True)
class Repetition:
    accepted: float  # seconds from publish
    published: float
    answered: float
    answers: int
    answer_messages: int
    router_cpu_s: float
    router_cores: float
    broker_cpu_s: float | None
    rss: float  # MiB after it
    polls: int

    @property
    def met(self) -> bool:
        return self.accepted <= TARGET_S and self.published <= TARGET_S


def outbox_depth(ledger: Path) -> int:
    """The router's `docex_outbox_depth`, read beside it: a WAL reader never blocks it."""
    db = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (count,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)
    finally:
        db.close()


async def wait_ready(port: int, router: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """/readyz says 200 once the router has declared every unit's queues and consumes."""
    deadline = time.perf_counter() + timeout
    while True:
        if (code := router.poll()) is not None:
            raise BenchError(f"the router exited with {code} before it was ready; see {log}")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.0\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        if time.perf_counter() > deadline:
            raise BenchError(f"the router was not ready within {timeout:.0f} s; see {log}")
        await asyncio.sleep(0.2)


async def delivered_count(admin: AbstractConnection, queues: list[str]) -> int:
    """Messages waiting in the recipients' queues: one passive declare each, after the clock."""
    channel = await admin.channel()
    try:
        total = 0
        for queue in queues:
            declared = await channel.declare_queue(queue, passive=True)
            total += declared.declaration_result.message_count or 0
        return total
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def measure(
    workspace: Workspace,
    router: subprocess.Popen[bytes],
    units: list[str],
    args: argparse.Namespace,
) -> list[Repetition]:
    names = workspace.names
    log = workspace.directory / "router.log"
    ledger = Path(workspace.config.router.ledger)
    ready_timeout = route.READY_TIMEOUT_S + len(units) / 20
    broker = route.broker_pid(workspace.rabbitmqctl)
    async with contextlib.AsyncExitStack() as stack:
        admin = await stack.enter_async_context(await aio_pika.connect(workspace.amqp_url))
        began = time.perf_counter()
        await route.wait_until_consuming(
            admin, names.intake_queue(SENDER), router, log, ready_timeout
        )
        await wait_ready(workspace.config.router.metrics_port, router, log, ready_timeout)
        rss, _ = route.rss_mib(router.pid)
        print(
            f"router ready after {time.perf_counter() - began:.1f} s with {len(units)} recipient"
            f" units; RSS {rss:.1f} MiB",
            flush=True,
        )
        sender = await stack.enter_async_context(await aio_pika.connect(workspace.unit_url(SENDER)))
        channel = await sender.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.inbound(SENDER), ensure=False)
        answers = Answers()
        answer_channel = await sender.channel()
        await answer_channel.set_qos(prefetch_count=1000)
        queue = await answer_channel.get_queue(names.unit_queue(SENDER))
        await queue.consume(answers.on_message, no_ack=True)
        unit_queues = [names.unit_queue(unit) for unit in units]

        repetitions = []
        for index in range(args.warmup + args.repeat):
            document = seal_circular(workspace, units, args.size)
            answers.expect(1 + len(units))  # accepted, and delivered from each recipient
            meter = CpuMeter(router.pid, broker)
            start = time.perf_counter()
            confirmation = await exchange.publish(
                aio_pika.Message(
                    document.body,
                    message_id=uuid7(),
                    user_id=workspace.unit_user(SENDER),
                    type="submit",
                    content_type=wire.CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="",
                mandatory=True,
                timeout=15.0,
            )
            if not isinstance(confirmation, aiormq.spec.Basic.Ack):
                raise BenchError("the submit was not confirmed (returned unroutable?)")
            deadline = start + args.timeout
            while answers.accepted_at is None:
                check(router, answers, log, deadline, "no `accepted` answer")
                await asyncio.sleep(0.005)
            # The outbox rows were committed with the acceptance: from here it only shrinks,
            # and each confirmed delivery's `delivered` answer goes in as the delivery leaves.
            polls = 0
            while True:
                polls += 1
                if await asyncio.to_thread(outbox_depth, ledger) == 0:
                    published = time.perf_counter() - start
                    break
                check(router, answers, log, deadline, "the outbox did not empty")
                await asyncio.sleep(args.poll)
            while answers.all_at is None:
                check(router, answers, log, deadline, "not every `delivered` answer came")
                await asyncio.sleep(0.01)
            cpu = meter.read()
            assert answers.all_at is not None and answers.accepted_at is not None
            if answers.states != {"accepted": 1, "delivered": len(units)}:
                raise BenchError(f"expected 1 accepted, {len(units)} delivered: {answers.states}")
            waiting = await delivered_count(admin, unit_queues)
            if waiting != (index + 1) * len(units):
                raise BenchError(
                    f"the recipients' queues hold {waiting} messages after {index + 1}"
                    f" circulars to {len(units)} units; expected {(index + 1) * len(units)}"
                )
            repetition = Repetition(
                accepted=answers.accepted_at - start,
                published=published,
                answered=answers.all_at - start,
                answers=answers.states.total(),
                answer_messages=answers.messages,
                router_cpu_s=cpu.worker * cpu.wall,
                router_cores=cpu.worker,
                broker_cpu_s=None if cpu.broker is None else cpu.broker * cpu.wall,
                rss=route.rss_mib(router.pid)[0],
                polls=polls,
            )
            if index < args.warmup:
                print(line(f"warm-up {index + 1}", repetition), flush=True)
            else:
                print(line(f"#{index - args.warmup + 1}", repetition), flush=True)
                repetitions.append(repetition)
        return repetitions


def check(
    router: subprocess.Popen[bytes], answers: Answers, log: Path, deadline: float, what: str
) -> None:
    if (code := router.poll()) is not None:
        raise BenchError(f"the router exited with {code}; see {log}")
    if answers.rejections:
        raise BenchError(f"the router rejected the circular: {answers.rejections[0]}")
    if time.perf_counter() > deadline:
        raise BenchError(f"{what} in time (got {dict(answers.states)}); see {log}")


def line(label: str, r: Repetition) -> str:
    broker = "" if r.broker_cpu_s is None else f", broker {r.broker_cpu_s * 1000:.0f} ms"
    return (
        f"  {label}: accepted {r.accepted * 1000:7.1f} ms, published {r.published * 1000:7.1f}"
        f" ms, answered {r.answered * 1000:7.1f} ms; CPU: router {r.router_cpu_s * 1000:.0f} ms"
        f" ({r.router_cores:.2f} cores){broker}; router RSS {r.rss:.1f} MiB;"
        f" answers: {r.answers} in {r.answer_messages} messages; outbox read {r.polls} times"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A circular to many units through one router.")
    parser.add_argument(
        "--units", type=int, default=2000, help="recipient units, each in `to` (2000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="measured circulars, one after another (3)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="circulars sent first, printed but not judged: the broker's first write to each"
        " freshly declared queue (1)",
    )
    parser.add_argument("--size", type=int, default=1024, help="body size in bytes (1024)")
    parser.add_argument(
        "--poll", type=float, default=0.01, help="seconds between outbox reads (0.01)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds one circular may take (120)"
    )
    parser.add_argument(
        "--amqp-url",
        help="an administrator's URL of the broker to measure on, administered with the"
        " machine's `rabbitmqctl` (default: a private RabbitMQ node the bench starts, with"
        " files enough for --units, and removes: thousands of queues never touch the"
        " machine's own broker)",
    )
    parser.add_argument(
        "--router-log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (ledger, log)")
    parser.add_argument(
        "--check", action="store_true", help="exit 2 when a circular missed the target"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be at least 1, --warmup at least 0")
    if not 1 <= args.units <= MAX_RECIPIENTS:
        parser.error(f"--units must be 1 to {MAX_RECIPIENTS} (the router's max_recipients)")
    return args


def broker_file_limit(amqp_url: str) -> int | None:
    """How many files the broker may open, as it says; None when it runs elsewhere (rabbitmqctl
    would answer for another broker: then the limit is the operator's to know) or rabbitmqctl
    cannot say."""
    if yarl.URL(amqp_url).host not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        return provision.node_file_limit()
    except provision.ProvisionError:
        return None


def too_few_files(units: int, limit: int | None) -> str | None:
    """Why the broker cannot take this many units, or None, by the estimate `docex units
    provision` checks (docex/router/provision.py). Once a node runs out of files it accepts
    connections and never answers them: at 2,000 units a broker started with 1,024 files stood
    still, and rabbitmqctl with it, until it was killed (scripts/ensure-services starts it with
    more)."""
    needed = provision.files_needed(units)
    if limit is None or limit >= needed:
        return None
    return (
        f"the local RabbitMQ may open {limit} files and {units} units need about {needed}:"
        f" restart it with more (`rabbitmqctl stop`, then scripts/ensure-services), or run"
        f" with --units {units_that_fit(limit)}"
    )


def units_that_fit(files: int) -> int:
    return max(0, (files - provision.files_needed(0)) // provision.FILES_PER_UNIT)


def hard_file_limit() -> int:
    """How many files a private node may be given: more takes a privilege this process may
    not have, even as root in a container."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    route.interrupt_on_sigterm()
    if args.amqp_url is not None:
        refusal = too_few_files(args.units, broker_file_limit(args.amqp_url))
        if refusal is not None:
            print(f"FAILED: {refusal}", file=sys.stderr)
            return 1
        return run(args, args.amqp_url, SYSTEM_RABBITMQCTL)
    needed = provision.files_needed(args.units)
    # Twice the estimate, within what this process may give its children.
    files = min(max(4096, 2 * needed), hard_file_limit())
    if files < needed:
        print(
            f"FAILED: a private RabbitMQ node may be given at most {files} files (`ulimit -Hn`)"
            f" and {args.units} units need about {needed}: raise"
            f" that limit, or run with --units {units_that_fit(files)}",
            file=sys.stderr,
        )
        return 1
    print(f"starting a private RabbitMQ node (open files {files})…", flush=True)
    try:
        with private_broker(1, open_files=files) as broker:
            return run(args, broker.urls[0], tuple(broker.ctl_command(0)))
    except BrokerError as exc:
        print(f"FAILED: the private RabbitMQ node: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; the private node is removed", file=sys.stderr)
        return 130


def run(args: argparse.Namespace, amqp_url: str, rabbitmqctl: tuple[str, ...]) -> int:
    """The bench on one broker; what it made there is removed however it ends."""
    cleanup = Cleanup(
        f"bench{secrets.token_hex(5)}", amqp_url, keep_dir=args.keep, rabbitmqctl=rabbitmqctl
    )
    to = recipients(args.units)
    print(
        f"run {cleanup.prefix}: a CA, seals, the sender's broker user and a router with"
        f" {args.units} recipient units…",
        flush=True,
    )
    workspace: Workspace | None = None
    try:
        workspace = route.set_up(
            cleanup,
            {SENDER: route.UNITS[SENDER], **to},
            metrics_port=route.free_port(),
            broker_users=[SENDER],
        )
        router = route.start_router(workspace, args.router_log_level, cleanup)
        repetitions = asyncio.run(measure(workspace, router, list(to), args))
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        if workspace is not None:
            print(f"router log (tail):\n{route.log_tail(workspace.directory / 'router.log')}")
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; removing what the run made", file=sys.stderr)
        return 130
    finally:
        cleanup.run()
    worst = max(max(r.accepted, r.published) for r in repetitions)
    median = statistics.median(r.published for r in repetitions)
    met = all(r.met for r in repetitions)
    print(
        f"\n  {'MET   ' if met else 'MISSED'} circular to {args.units} units: accepted and every"
        f" delivery published within {worst * 1000:.0f} ms at worst, median published"
        f" {median * 1000:.0f} ms (target ≤ {TARGET_S * 1000:.0f} ms, every repetition)"
    )
    return 2 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
