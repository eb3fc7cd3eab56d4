"""How fast docex routes documents, measured next to the ceiling the broker allows.

For each body size this prints documents/s and send→deliver latency (p50, p99) through the
router, and the same for a bare aio-pika relay (consume, publish with confirm, ack) on the same
broker, plus the ratio. The relay is the ceiling: it moves the same bytes with the same
guarantees (quorum queues, persistent messages, confirms, acks after confirm) and does nothing
else, so the ratio says what the router's own work costs, whatever the machine.

Both the router and the relay run as subprocesses beside this driver: the router as operators
run it (`python -m docex.cli router run --config FILE`), so it gets its own interpreter and
event loop, and the 2 cores are shared by driver, worker and broker in the same way for both.

Everything is made for the run and removed after it: a temp dir with a fresh CA and seals, a
unique prefix (`bench<hex>`) for queues and exchanges, and the two units' broker users made by
`router.provision`. Sealing happens before timing starts: it is the sender's cost, not the
router's.

    .venv/bin/python bench/route.py                    # full run: four 30 s fixed-rate runs a path
    .venv/bin/python bench/route.py --quick            # smoke run: small counts, 2 s fixed rates
    .venv/bin/python bench/route.py --prefill 1000000  # the same on a ledger of 1M deliveries
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import IO

import aio_pika
import aiormq
import msgspec
import yarl
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)
from prometheus_client.parser import text_string_to_metric_families

from docex import wire
from docex.config import Config, load_config
from docex.ids import uuid7
from docex.ledger.admin import init_ledger
from docex.router.provision import SYSTEM_RABBITMQCTL, provision, unit_password
from docex.seals.ca import init_ca
from docex.seals.kinds import SealKind
from docex.seals.seal import Seal, issue_seal
from docex.topology import Names
from docex.unit.compose import apply_seal, compose

# bench/ is not a package: ledger_fill.py, beside this file, is imported as a module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_fill import Fill, fill_deliveries

REPO = Path(__file__).resolve().parent.parent
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SENDER = "sender"
RECIPIENT = "recipient"
UNITS = {SENDER: "基准测试发文单位", RECIPIENT: "基准测试收文单位"}
# The router's default batch window; the relay gets the same, so both see equal credit.
PREFETCH = 256
PDF_HEADER = b"%PDF-1.7\n"
# From this size on a document is "large": throughput runs only (issue #19: 500 KB, ≥ 100/s).
LARGE_SIZE = 512_000
# Targets from issue #19.
TARGET_RATIO = 0.80  # router throughput / relay throughput, each size below LARGE_SIZE
TARGET_P99_MARGIN_S = 0.010  # router p99 ≤ relay p99 + this, at --rate
TARGET_HIGH_RATE_P99_S = 0.020  # router p99 at --high-rate, smallest size
TARGET_LARGE_PER_S = 100.0  # router documents/s from LARGE_SIZE on
# A worker that does not consume its queue within this is broken, not slow.
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
# CPU used by processes other than ours above which the report warns that the numbers are off.
BUSY_MACHINE_CORES = 0.25


class BenchError(Exception):
    """The run could not be measured; the message says what was seen, for the person reading."""


# Setup and cleanup (synchronous: they run before and after the event loop).


@dataclass
class Cleanup:
    """What this run made, recorded as it is made, so a run failing halfway removes its part."""

    prefix: str
    amqp_url: str
    keep_dir: bool = False
    # How to administer the broker: the machine's node, or a private one (circular.py).
    rabbitmqctl: tuple[str, ...] = SYSTEM_RABBITMQCTL
    directory: Path | None = None
    users: list[str] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def run(self) -> None:
        """Never raises: a failed step is reported and the others still run."""
        for worker in self.workers:
            stop_worker(worker)
        for log in self.logs:
            log.close()
        try:
            asyncio.run(delete_broker_objects(self.amqp_url, self.prefix, self.rabbitmqctl))
        except Exception as exc:
            print(f"cleanup: queues/exchanges of {self.prefix}: {exc!r}", file=sys.stderr)
        for user in self.users:
            try:
                done = subprocess.run(
                    [*self.rabbitmqctl, "--quiet", "delete_user", user],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                print(f"cleanup: delete_user {user}: {exc!r}", file=sys.stderr)
                continue
            # A user that provisioning never got to is fine; anything else is worth a word.
            if done.returncode != 0 and "does not exist" not in done.stderr:
                print(f"cleanup: delete_user {user}: {done.stderr.strip()}", file=sys.stderr)
        if self.directory is not None:
            if self.keep_dir:
                print(f"kept {self.directory} (ledger, router.log, relay.log)")
            else:
                shutil.rmtree(self.directory, ignore_errors=True)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the router flush its outbox and close cleanly; SIGKILL only if it hangs."""
    if worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"cleanup: pid {worker.pid} ignored SIGTERM; killing it", file=sys.stderr)
        worker.kill()
        worker.wait()


def broker_names(kind: str, prefix: str, rabbitmqctl: Sequence[str]) -> list[str]:
    listed = subprocess.run(
        [*rabbitmqctl, "--quiet", "--no-table-headers", f"list_{kind}", "name"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return [name for name in listed if name.startswith(f"{prefix}.")]


async def delete_broker_objects(amqp_url: str, prefix: str, rabbitmqctl: Sequence[str]) -> None:
    """Every queue and exchange named under this run's prefix; the prefix is unique per run."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in broker_names("queues", prefix, rabbitmqctl):
            await channel.queue_delete(queue)
        for exchange in broker_names("exchanges", prefix, rabbitmqctl):
            await channel.exchange_delete(exchange)


@dataclass(frozen=True)
class Workspace:
    directory: Path
    prefix: str
    amqp_url: str
    config_path: Path
    config: Config
    seals: dict[str, Seal]
    rabbitmqctl: tuple[str, ...] = SYSTEM_RABBITMQCTL

    @property
    def sender_seal(self) -> Seal:
        return self.seals[SENDER]

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    def unit_user(self, unit_id: str) -> str:
        unit = self.config.unit(unit_id)
        assert unit is not None
        return unit.amqp_user

    def unit_url(self, unit_id: str) -> str:
        """The unit's own broker account: the broker vouches for `user_id` only with it."""
        password = unit_password(self.directory / "passwords", unit_id)
        url = yarl.URL(self.amqp_url).with_user(self.unit_user(unit_id))
        return str(url.with_password(password))


def router_config(
    prefix: str,
    amqp_url: str,
    units: dict[str, str],
    prefetch: int | None,
    metrics_port: int = 0,
) -> str:
    """Defaults everywhere except names, paths and `prefetch` (None: the default). The metrics
    endpoint is off unless given a port (`free_port()`: parallel runs, or a demo router, must
    not collide on the default one)."""
    listed = "".join(
        f'[[units]]\nid = "{unit}"\nname = "{name}"\namqp_user = "{prefix}-{unit}"\n\n'
        for unit, name in units.items()
    )
    return f"""[router]
amqp_url = {json.dumps(amqp_url)}
prefix = "{prefix}"
ledger = "ledger.sqlite"
{f"prefetch = {prefetch}" if prefetch else ""}
metrics_port = {metrics_port}
# The benchmark sends PDF, an addition to CEB, the rulebook's format (§27).
allowed_formats = ["ceb", "pdf"]
seal_carrier = "exchange.carrier"
seal_password_file = "exchange.password"

[seals]
ca_certificate = "ca/ca.crt"

{listed}"""


def set_up(
    cleanup: Cleanup,
    units: dict[str, str] = UNITS,
    prefetch: int | None = PREFETCH,
    *,
    metrics_port: int = 0,
    broker_users: Collection[str] | None = None,
) -> Workspace:
    """A fresh CA, the exchange seal, a config, and the units' signing seals and broker users:
    for the units in `broker_users` only (None: all), since a unit that never connects needs
    neither, each broker user is a `rabbitmqctl` call to make and another to remove, and each
    seal's carrier an scrypt key derivation (2,000 of them took minutes)."""
    directory = Path(tempfile.mkdtemp(prefix=f"{cleanup.prefix}-"))
    cleanup.directory = directory
    now = datetime.now(UTC)
    password = secrets.token_hex(12)
    ca = init_ca(directory / "ca", "基准测试交换CA", now=now)
    seals = {
        unit: issue_seal(
            ca, unit, name, SealKind.SIGNING, directory / f"{unit}.carrier", password, now=now
        )
        for unit, name in units.items()
        if broker_users is None or unit in broker_users
    }
    issue_seal(
        ca,
        "exchange",
        "电子公文交换系统",
        SealKind.EXCHANGE,
        directory / "exchange.carrier",
        password,
        now=now,
    )
    (directory / "exchange.password").write_text(password)
    config_path = directory / "router.toml"
    config_path.write_text(
        router_config(cleanup.prefix, cleanup.amqp_url, units, prefetch, metrics_port)
    )
    config = load_config(config_path)
    # The router never makes its ledger itself: an operator does, once (`docex ledger init`).
    init_ledger(Path(config.router.ledger))
    users = [u for u in config.units if broker_users is None or u.id in broker_users]
    # Recorded first: provision may fail after making some of them.
    cleanup.users.extend(unit.amqp_user for unit in users)
    provision(
        msgspec.structs.replace(config, units=users),
        directory / "passwords",
        rabbitmqctl=cleanup.rabbitmqctl,
    )
    return Workspace(
        directory,
        cleanup.prefix,
        cleanup.amqp_url,
        config_path,
        config,
        seals,
        cleanup.rabbitmqctl,
    )


def start_worker(command: list[str], log_path: Path, cleanup: Cleanup) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    cleanup.logs.append(log)
    worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    cleanup.workers.append(worker)
    return worker


def start_router(workspace: Workspace, log_level: str, cleanup: Cleanup) -> subprocess.Popen[bytes]:
    """As operators run it; its log goes to a file, as it would go to journald."""
    command = [sys.executable, "-m", "docex.cli", "--log-level", log_level]
    command += ["router", "run", "--config", str(workspace.config_path)]
    return start_worker(command, workspace.directory / "router.log", cleanup)


def start_relay(workspace: Workspace, cleanup: Cleanup) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(Path(__file__).resolve()), "--relay-worker"]
    command += ["--amqp-url", workspace.amqp_url, "--relay-prefix", workspace.prefix]
    return start_worker(command, workspace.directory / "relay.log", cleanup)


def broker_pid(rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL) -> int | None:
    """The local broker's OS process, to tell its CPU from the router's; None when the broker
    runs elsewhere (or rabbitmqctl cannot say)."""
    try:
        done = subprocess.run(
            [*rabbitmqctl, "--quiet", "eval", "os:getpid()."],
            capture_output=True,
            text=True,
            timeout=60,
        )
        pid = int(done.stdout.strip().strip('"'))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return pid if Path(f"/proc/{pid}/stat").exists() else None


async def roll_broker_log_over(broker: int | None) -> bool:
    """Start the local broker's write-ahead log afresh and wait until it has written out the
    old one; False when there is no local broker to ask.

    RabbitMQ's quorum queues share one log of up to 512 MiB (`ra`'s `wal_max_size_bytes`).
    When it fills, the broker writes its entries out to each queue's segment files: about
    575 MB here, in bursts that stall every fsync on the disk for 0.5-1 s. At 64 KiB that
    happens every 4,000 documents or so, by both routes alike, and whether a run caught it
    decided the run: the relay did 899-1,865 docs/s at 64 KiB on one machine in one day. From
    a fresh log, each route's run meets it at the same document."""
    if broker is None:
        return False
    done = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "--quiet", "eval", "ra_log_wal:force_roll_over(ra_log_wal)."],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 or done.stdout.strip() != "ok":
        return False
    # Written out once the broker's writes stop growing: under 1 MB in each of 3 tenths of
    # a second.
    quiet, written = 0, broker_bytes_written(broker)
    deadline = time.monotonic() + 60
    while quiet < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = broker_bytes_written(broker)
        quiet = quiet + 1 if now - written < 1_000_000 else 0
        written = now
    return True


def broker_bytes_written(broker: int) -> int:
    with open(f"/proc/{broker}/io") as io:
        for line in io:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def free_port() -> int:
    """A port nothing listens on now, for the router's metrics endpoint. Another process could
    take it before the router binds it; the router would then fail to start, and say so."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MiB: VmRSS and VmHWM of /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024  # kB
    return values["VmRSS"], values["VmHWM"]


@dataclass(frozen=True)
class Scrape:
    seconds: float
    size: int  # bytes of the response body

    def describe(self) -> str:
        return f"{self.seconds * 1000:.1f} ms, {self.size / 1024:.1f} KiB"


def scrape_metrics(port: int) -> tuple[Scrape, bytes]:
    """One GET /metrics, timed from connect to the last byte, as Prometheus would see it."""
    began = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        body: bytes = answer.read()
    return Scrape(time.perf_counter() - began, len(body)), body


# The router's histograms of where a document's time goes (docex/router/metrics.py), and what
# the progress line calls each.
STAGES = {
    "docex_intake_wait_seconds": "waiting for its turn",
    "docex_intake_commit_seconds": "transaction and fsync",
    "docex_publish_confirm_seconds": "publish to confirm",
    "docex_send_to_deliver_seconds": "accepted to delivered",
}


@dataclass(frozen=True)
class Histogram:
    count: float
    total: float  # seconds
    buckets: tuple[tuple[float, float], ...]  # (upper bound, observations up to it), ascending

    def since(self, before: Histogram) -> Histogram:
        return Histogram(
            self.count - before.count,
            self.total - before.total,
            tuple(
                (bound, now - then)
                for (bound, now), (_, then) in zip(self.buckets, before.buckets, strict=True)
            ),
        )

    def upper_bound(self, q: float) -> float:
        """The smallest bucket bound with at least q % of the observations at or below it."""
        wanted = q / 100 * self.count
        return next((bound for bound, seen in self.buckets if seen >= wanted), math.inf)

    def describe(self) -> str:
        if not self.count:
            return "-"
        p99 = self.upper_bound(99)
        bound = ms(p99) if p99 != math.inf else "∞"
        return f"{ms(self.total / self.count)} (p99 ≤ {bound}, {self.count:.0f}x)"


def router_stages(port: int) -> dict[str, Histogram]:
    """STAGES as the router reports them now (cumulative since it started)."""
    _, body = scrape_metrics(port)
    stages = {}
    for family in text_string_to_metric_families(body.decode()):
        name = family.name
        if name not in STAGES:
            continue
        values = {sample.name: sample.value for sample in family.samples}
        buckets = tuple(
            (float(sample.labels["le"]), sample.value)
            for sample in family.samples
            if sample.name.endswith("_bucket")
        )
        stages[name] = Histogram(values[f"{name}_count"], values[f"{name}_sum"], buckets)
    return stages


def prefill_ledger(workspace: Workspace, deliveries: int) -> str:
    """Fill the router's (not yet started) ledger with `deliveries`, straight through SQLite in
    one transaction, and say what was made. Senders and recipients are this run's two units
    and 58 units known to the ledger only (a 60-unit exchange: the bench's units get their
    realistic share of every per-unit index). Documents were sent over the last 300 days; all
    but 3 % of those older than an hour were received (the rest withdrawn, returned or on
    paper), the last hour's are waiting: so no receipt reminder (24 h) or queue timeout (4 h)
    falls due during the run. Ids start `fill-`, and never meet the run's (uuid7)."""
    path = Path(workspace.config.router.ledger)
    now = datetime.now(UTC)
    units = [SENDER, RECIPIENT, *(f"{workspace.prefix}-other{n:02d}" for n in range(58))]
    plan = Fill(
        units,
        deliveries,
        start=now - timedelta(days=300),
        end=now - timedelta(seconds=1),
        waiting_from=now - timedelta(hours=1),
        received=0.97,
        doc_prefix="fill-",
        commands=True,
    )
    began = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        documents, made = fill_deliveries(db, plan, random.Random(19))
        db.execute("COMMIT")
        # Into the main file now, or the router's checkpoints would do it during the first run.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    size = path.stat().st_size / 2**20
    return (
        f"ledger prefilled: {made} deliveries of {documents} documents in"
        f" {time.perf_counter() - began:.1f} s, {size:.0f} MiB"
    )


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"


# The bare relay: the ceiling.


@dataclass(frozen=True)
class RelayNames:
    prefix: str

    @property
    def inbound(self) -> str:
        """A fanout exchange in front of the input queue, as units publish to `<prefix>.in`."""
        return f"{self.prefix}.relay.in"

    @property
    def input_queue(self) -> str:
        return f"{self.prefix}.relay.in"

    @property
    def output_queue(self) -> str:
        return f"{self.prefix}.relay.out"


async def serve_relay(amqp_url: str, prefix: str) -> None:
    """Consume, publish persistently with a confirm, ack the input once confirmed: the least any
    router must do to hand a message on without losing it. Messages are pipelined (aio-pika
    runs each delivery's callback as its own task), up to the prefetch, like the router."""
    names = RelayNames(prefix)
    quorum: dict[str, object] = {"x-queue-type": "quorum"}
    connection = await aio_pika.connect(amqp_url)
    publish_channel = await connection.channel(publisher_confirms=True)
    inbound = await publish_channel.declare_exchange(
        names.inbound, aio_pika.ExchangeType.FANOUT, durable=True
    )
    input_queue = await publish_channel.declare_queue(
        names.input_queue, durable=True, arguments=quorum
    )
    await input_queue.bind(inbound)
    await publish_channel.declare_queue(names.output_queue, durable=True, arguments=quorum)
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=PREFETCH)
    queue = await consume_channel.get_queue(names.input_queue)
    output = publish_channel.default_exchange

    async def forward(message: AbstractIncomingMessage) -> None:
        try:
            confirmation = await output.publish(
                aio_pika.Message(
                    message.body,
                    message_id=message.message_id,
                    type=message.type,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=names.output_queue,
                mandatory=True,
                timeout=15.0,
            )
            if not isinstance(confirmation, aiormq.spec.Basic.Ack):
                raise RuntimeError(f"not confirmed: {confirmation!r}")
        except Exception as exc:
            print(f"relay: publish failed: {exc!r}", file=sys.stderr, flush=True)
            await message.nack(requeue=True)
            return
        await message.ack()

    await queue.consume(forward)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await connection.close()


# The driver.


@dataclass(frozen=True)
class Document:
    key: str  # the envelope id: what the far end reads back to find the send time
    body: bytes  # the encoded submit, exactly what a unit's client publishes


def seal_documents(
    seal: Seal, size: int, count: int, sender: str = SENDER, recipient: str = RECIPIENT
) -> list[Document]:
    """Distinct bodies (the ledger stores a body once per hash), sealed as a unit would."""
    now = datetime.now(UTC)
    documents = []
    for index in range(count):
        content = PDF_HEADER + os.urandom(max(0, size - len(PDF_HEADER)))
        envelope = compose(
            content,
            sender=sender,
            to=[recipient],
            cc=[],
            print_quota={recipient: 1},
            title=f"关于基准测试的通知（第{index}号）",
            doc_no=f"基准〔2026〕{index}号",
            format="pdf",
            now=now,
        )
        sealed = apply_seal(envelope, seal, sealed_by="基准测试", now=now)
        body = wire.encode(wire.Submit(v=wire.VERSION, envelope=sealed))
        documents.append(Document(sealed.id, body))
    return documents


def router_key(body: bytes) -> str:
    message = wire.decode_router_message(body)
    if not isinstance(message, wire.Deliver):
        raise ValueError(f"a {wire.type_name(message)} message in the recipient's queue")
    return message.envelope.id


def relay_key(body: bytes) -> str:
    """Decoded like the router's deliveries, so the driver does the same work for both."""
    command = wire.decode_command(body)
    if not isinstance(command, wire.Submit):
        raise ValueError(f"a {wire.type_name(command)} command in the relay's output")
    return command.envelope.id


class Receiver:
    """The far end: matches each arrival to its send time. A recipient system acks what it
    has taken, so this acks too."""

    def __init__(self, key_of: Callable[[bytes], str]) -> None:
        self.key_of = key_of
        self.sent: dict[str, float] = {}
        self.pending: set[str] = set()
        self.latencies: list[float] = []
        self.last_arrival = 0.0
        self.unexpected = 0
        self.errors: list[str] = []
        # AMQP messages that carried the documents: fewer than documents when batched.
        self.messages = 0
        self.done = asyncio.Event()

    def expect(self, keys: Iterable[str]) -> None:
        self.sent = {}
        self.pending = set(keys)
        self.latencies = []
        self.unexpected = 0
        self.messages = 0
        self.done.clear()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        arrived = time.perf_counter()
        # The router sends what is due to a unit together as one batch (docex/wire.py); each
        # document in it arrived when the batch did.
        try:
            items = wire.unpack(message.message_id or "", message.type or "", message.body)
        except wire.WireError as exc:
            items = []
            self.errors.append(f"{message.message_id}: {exc}")
        self.messages += 1
        for item in items:
            self._arrived(item.message_id, item.body, arrived)
        await message.ack()

    def _arrived(self, message_id: str, body: bytes, arrived: float) -> None:
        try:
            key = self.key_of(body)
        except (wire.WireError, ValueError) as exc:
            self.errors.append(f"{message_id}: {exc}")
            return
        if key in self.pending:
            self.pending.remove(key)
            self.latencies.append(arrived - self.sent[key])
            self.last_arrival = arrived
            if not self.pending:
                self.done.set()
        else:
            self.unexpected += 1


class StatusWatch:
    """The sender's queue gets `accepted` and `delivered` for each document. Reading it keeps it
    from growing, tells when the router has finished a phase, and fails the run at the first
    rejection, with its reason."""

    def __init__(self) -> None:
        self.states: Counter[str] = Counter()
        self.rejections: list[str] = []
        self.expected = 0
        # AMQP messages that carried the answers: fewer than answers when batched.
        self.messages = 0
        self.done = asyncio.Event()

    def expect(self, count: int) -> None:
        self.states = Counter()
        self.messages = 0
        self.expected = count
        self.done.clear()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        # A unit reads a batch of answers as the answers it carries (docex/wire.py).
        try:
            answers = [
                wire.decode_router_message(item.body)
                for item in wire.unpack(message.message_id or "", message.type or "", message.body)
            ]
        except wire.WireError as exc:
            self.rejections.append(f"unreadable answer {message.message_id}: {exc.message}")
            return
        self.messages += 1
        for answer in answers:
            state = answer.state if isinstance(answer, wire.Status) else wire.type_name(answer)
            self.states[state] += 1
            if state == "rejected" and isinstance(answer, wire.Status):
                self.rejections.append(f"{answer.doc_id}: {answer.reason}: {answer.message}")
        if self.states.total() >= self.expected:
            self.done.set()


@dataclass
class Route:
    """One way from the sending unit to the far end: through the router or the bare relay."""

    name: str
    exchange: AbstractExchange
    user_id: str
    receiver: Receiver
    worker: subprocess.Popen[bytes]
    log: Path
    queues: list[str]  # to show their depths when a phase times out
    statuses: StatusWatch | None = None  # the router answers the sender; the relay does not
    metrics_port: int = 0  # the router's, for where its time went; 0: none (the relay)

    async def stages(self) -> dict[str, Histogram]:
        """Where the router's time went so far (STAGES); nothing for the relay."""
        if not self.metrics_port:
            return {}
        return await asyncio.to_thread(router_stages, self.metrics_port)


@dataclass(frozen=True)
class Result:
    route: str
    size: int
    mode: str  # "throughput" or "rate"
    rate: float | None  # documents/s asked for in rate mode
    count: int
    elapsed: float  # first send to last arrival
    latencies: list[float]  # sorted, seconds
    max_lag: float  # how late the driver sent against its schedule (rate mode)
    cpu: CpuUse
    # The AMQP messages that brought the documents to the far end.
    arrival_messages: int
    # The router's answers to the sender, and the AMQP messages that carried them (a `batch`
    # carries several); None for the relay.
    answers: int | None = None
    answer_messages: int | None = None
    # Where the router's time went in this run (STAGES); empty for the relay.
    stages: dict[str, Histogram] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed

    def ms_per_doc(self, process: str) -> float | None:
        """CPU ms per document of "worker", "broker" or "driver"."""
        cores: float | None = getattr(self.cpu, process)
        return self.cpu.ms_per(cores, self.count)

    def percentile(self, q: float) -> float:
        """Nearest rank: an observed value, so p99 of 2,000 is the 20th slowest."""
        rank = max(1, math.ceil(q / 100 * len(self.latencies)))
        return self.latencies[rank - 1]


class Pacer:
    """Sends at a fixed rate (None: as fast as the window allows), noting how far the driver
    fell behind its schedule."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.start = time.perf_counter()
        self.max_lag = 0.0

    async def turn(self, index: int) -> None:
        """Return when the index-th send is due."""
        if self.rate is None:
            return
        delay = self.start + index / self.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self.max_lag = max(self.max_lag, -delay)


def process_cpu_seconds(pid: int) -> float:
    """User + system time of a process, from /proc (no psutil in the venv)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds summed over the cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


@dataclass(frozen=True)
class CpuUse:
    """Where the cores went during a run, in cores (1.0 = one core busy all along). `other` is
    what none of ours used: another job on the machine, which makes the numbers low."""

    worker: float
    driver: float
    broker: float | None  # None: the broker is not on this machine
    busy: float  # all processes, of all cores: 0..1
    other: float | None
    wall: float  # seconds the meter ran: cores x wall = CPU seconds

    def ms_per(self, cores: float | None, count: int) -> float | None:
        """CPU milliseconds per document of a process that used `cores` all along."""
        return None if cores is None else cores * self.wall / count * 1000

    def describe(self, worker_name: str) -> str:
        parts = [f"{worker_name} {self.worker:.2f}", f"driver {self.driver:.2f}"]
        if self.broker is not None:
            parts.append(f"broker {self.broker:.2f}")
        if self.other is not None:
            parts.append(f"other {self.other:.2f}")
        return f"cores: {', '.join(parts)} (machine {self.busy:.0%} busy)"


class CpuMeter:
    """CPU used between `__init__` and `read()`, by worker, driver, broker and everything."""

    def __init__(self, worker: int, broker: int | None) -> None:
        self.worker, self.broker = worker, broker
        self.start = time.perf_counter()
        self.worker_s = process_cpu_seconds(worker)
        self.driver_s = time.process_time()
        self.broker_s = process_cpu_seconds(broker) if broker else 0.0
        self.machine_s = machine_cpu_seconds()

    def read(self) -> CpuUse:
        wall = time.perf_counter() - self.start
        worker = (process_cpu_seconds(self.worker) - self.worker_s) / wall
        driver = (time.process_time() - self.driver_s) / wall
        busy_s, all_s = machine_cpu_seconds()
        busy_cores = (busy_s - self.machine_s[0]) / wall
        busy = (busy_s - self.machine_s[0]) / max(1e-9, all_s - self.machine_s[1])
        if self.broker is None:
            return CpuUse(worker, driver, None, busy, None, wall)
        broker = (process_cpu_seconds(self.broker) - self.broker_s) / wall
        other = max(0.0, busy_cores - worker - driver - broker)
        return CpuUse(worker, driver, broker, busy, other, wall)


class Driver:
    """Publishes as the sending unit and waits at the far end; every wait has a deadline."""

    def __init__(
        self,
        admin: AbstractConnection,
        window: int,
        timeout: float | None,
        broker: int | None,
    ) -> None:
        self.admin = admin
        self.window = window
        self.timeout = timeout
        self.broker = broker

    async def run(
        self, route: Route, documents: Sequence[Document], size: int, rate: float | None
    ) -> Result:
        """rate None: as fast as `window` outstanding confirms allow; else a fixed rate."""
        mode = "throughput" if rate is None else "rate"
        receiver = route.receiver
        receiver.expect(document.key for document in documents)
        if route.statuses is not None:
            route.statuses.expect(2 * len(documents))
        window = asyncio.Semaphore(self.window)
        failures: list[str] = []
        in_flight: set[asyncio.Task[None]] = set()
        confirmed = 0

        def settled(task: asyncio.Task[None]) -> None:
            nonlocal confirmed
            in_flight.discard(task)
            window.release()
            if task.cancelled():
                return
            if (exc := task.exception()) is not None:
                failures.append(repr(exc))
            else:
                confirmed += 1

        timeout = self.timeout or (
            30.0 + len(documents) / 50 if rate is None else 30.0 + len(documents) / rate
        )
        stages_before = await route.stages()
        meter = CpuMeter(route.worker.pid, self.broker)
        pacer = Pacer(rate)
        start = pacer.start
        deadline = start + timeout
        sent_all = True
        try:
            for index, document in enumerate(documents):
                await pacer.turn(index)
                await window.acquire()
                self._check(route, failures)
                if time.perf_counter() > deadline:
                    sent_all = False  # confirms stopped coming, or the timeout is too short
                    break
                receiver.sent[document.key] = time.perf_counter()
                task = asyncio.create_task(self._publish(route, document))
                in_flight.add(task)
                task.add_done_callback(settled)
            arrived = sent_all and await self._wait(receiver.done, deadline, route, failures)
            if arrived and route.statuses is not None:
                arrived = await self._wait(route.statuses.done, deadline, route, failures)
            if not arrived:
                raise BenchError(
                    await self._describe(route, documents, confirmed, failures, timeout)
                )
        finally:
            for task in list(in_flight):
                task.cancel()
        cpu = meter.read()
        stages_after = await route.stages()
        self._check_answers(route, len(documents))
        statuses = route.statuses
        return Result(
            route=route.name,
            size=size,
            mode=mode,
            rate=rate,
            count=len(documents),
            elapsed=receiver.last_arrival - start,
            latencies=sorted(receiver.latencies),
            max_lag=pacer.max_lag,
            cpu=cpu,
            arrival_messages=receiver.messages,
            answers=None if statuses is None else statuses.states.total(),
            answer_messages=None if statuses is None else statuses.messages,
            stages={
                name: stages_after[name].since(stages_before[name])
                for name in STAGES
                if name in stages_before and name in stages_after
            },
        )

    async def _publish(self, route: Route, document: Document) -> None:
        """As a unit's client does (docex/unit/client.py): persistent, mandatory, confirmed."""
        confirmation = await route.exchange.publish(
            aio_pika.Message(
                document.body,
                message_id=uuid7(),  # as UnitClient.send: the router's idempotency key
                user_id=route.user_id,
                type="submit",
                content_type=wire.CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="",
            mandatory=True,
            timeout=15.0,
        )
        if not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise BenchError(f"{route.name}: publish not confirmed (returned unroutable?)")

    async def _wait(
        self, event: asyncio.Event, deadline: float, route: Route, failures: list[str]
    ) -> bool:
        """Wait for `event` till `deadline`, failing early if the worker dies or a send fails."""
        while not event.is_set():
            self._check(route, failures)
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(0.5, remaining))
        return True

    @staticmethod
    def _check(route: Route, failures: list[str]) -> None:
        if (code := route.worker.poll()) is not None:
            raise BenchError(f"the {route.name} process exited with {code}; see {route.log}")
        if failures:
            raise BenchError(f"{route.name}: {len(failures)} publishes failed: {failures[0]}")
        if route.statuses is not None and route.statuses.rejections:
            raise BenchError(
                f"the router rejected {len(route.statuses.rejections)} documents, first: "
                + route.statuses.rejections[0]
            )
        if route.receiver.errors:
            raise BenchError(f"{route.name}: unreadable arrival: {route.receiver.errors[0]}")

    @staticmethod
    def _check_answers(route: Route, count: int) -> None:
        """Each document must have been accepted and delivered once, nothing else."""
        if route.statuses is None:
            return
        states = route.statuses.states
        if states != Counter({"accepted": count, "delivered": count}):
            raise BenchError(f"expected {count} accepted and delivered; the sender got {states}")

    async def _describe(
        self,
        route: Route,
        documents: Sequence[Document],
        confirmed: int,
        failures: list[str],
        timeout: float,
    ) -> str:
        receiver = route.receiver
        missing = sorted(receiver.pending)
        lines = [
            f"{route.name}: not done within {timeout:g} s",
            f"  sent {len(receiver.sent)} of {len(documents)}, confirmed {confirmed},"
            f" failed {len(failures)}",
            f"  arrived {len(documents) - len(missing)}, missing {len(missing)}"
            f" (e.g. {', '.join(missing[:3])}), unexpected {receiver.unexpected}",
        ]
        if route.statuses is not None:
            lines.append(
                f"  sender got {dict(route.statuses.states)} of {route.statuses.expected} answers"
            )
        for name, depth in (await queue_depths(self.admin, route.queues)).items():
            lines.append(f"  queue {name}: {depth}")
        return "\n".join(lines)


async def queue_depths(connection: AbstractConnection, names: list[str]) -> dict[str, str]:
    depths = {}
    for name in names:
        channel = await connection.channel()
        try:
            declared = (await channel.declare_queue(name, passive=True)).declaration_result
            depths[name] = f"{declared.message_count} ready, {declared.consumer_count} consumers"
        except aiormq.exceptions.AMQPError as exc:
            depths[name] = f"unknown ({exc!r})"
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
    return depths


async def wait_until_consuming(
    admin: AbstractConnection,
    queue: str,
    worker: subprocess.Popen[bytes],
    log: Path,
    timeout: float = READY_TIMEOUT_S,
) -> None:
    """A worker is ready once it consumes its input queue; nothing is timed before that."""
    deadline = time.perf_counter() + timeout
    while True:
        if (code := worker.poll()) is not None:
            raise BenchError(f"{log.stem} exited with {code} before it was ready; see {log}")
        channel: AbstractChannel = await admin.channel()
        try:
            declared = (await channel.declare_queue(queue, passive=True)).declaration_result
            if declared.consumer_count:
                return
        except aiormq.exceptions.ChannelNotFoundEntity:
            pass  # not declared yet
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        if time.perf_counter() > deadline:
            raise BenchError(f"{log.stem} did not consume {queue} within {timeout:.0f} s")
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Plan:
    sizes: list[int]
    counts: dict[int, int]
    rate: float
    high_rate: float  # 0: no such run
    duration: float
    warmup: int
    window: int
    timeout: float | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        sizes = [int(size) for size in args.sizes.split(",")]

        def default_count(size: int) -> int:
            if size >= LARGE_SIZE:
                return 50 if args.quick else 300
            if args.quick:
                return 300 if size < 65536 else 200
            return 3000 if size < 65536 else 2000

        return cls(
            sizes=sizes,
            counts={size: args.count or default_count(size) for size in sizes},
            rate=args.rate,
            high_rate=args.high_rate,
            duration=args.duration or (2.0 if args.quick else 30.0),
            warmup=args.warmup if args.warmup is not None else (20 if args.quick else 100),
            window=args.window,
            timeout=args.timeout,
        )

    def rates(self, size: int) -> list[float]:
        """The fixed rates this size is run at: none for a large size, `rate` for the others,
        and `high_rate` too for the smallest."""
        if size >= LARGE_SIZE:
            return []
        if self.high_rate and self.high_rate != self.rate and size == min(self.sizes):
            return [self.rate, self.high_rate]
        return [self.rate]


@dataclass
class Machine:
    cores: int
    cpu: str
    rabbitmq: str
    background: CpuUse  # a second of idling before the runs: is anything else busy?
    # Whether every run started on a fresh broker log (roll_broker_log_over).
    broker_log_rolled: bool = True
    python: str = platform.python_version()
    aio_pika: str = version("aio-pika")
    sqlite: str = sqlite3.sqlite_version


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


async def measure(
    workspace: Workspace,
    plan: Plan,
    router: subprocess.Popen[bytes],
    relay: subprocess.Popen[bytes],
    broker: int | None,
) -> tuple[Machine, list[Result], RouterUse]:
    names, relay_names = workspace.names, RelayNames(workspace.prefix)
    async with contextlib.AsyncExitStack() as stack:
        connect = aio_pika.connect
        admin = await stack.enter_async_context(await connect(workspace.amqp_url))
        server = admin.transport.connection.server_properties if admin.transport else {}
        raw_version = server.get("version", "unknown")
        router_log = workspace.directory / "router.log"
        relay_log = workspace.directory / "relay.log"
        await wait_until_consuming(admin, names.intake_queue(SENDER), router, router_log)
        await wait_until_consuming(admin, relay_names.input_queue, relay, relay_log)
        idle = CpuMeter(router.pid, broker)
        await asyncio.sleep(1.0)
        machine = Machine(
            cores=os.cpu_count() or 0,
            cpu=cpu_model(),
            rabbitmq=raw_version.decode() if isinstance(raw_version, bytes) else str(raw_version),
            background=idle.read(),
        )
        use = RouterUse(router.pid, workspace.config.router.metrics_port)
        await use.note("after start-up")

        # The router's path: publish as the sending unit, read as the recipient unit.
        sender = await stack.enter_async_context(await connect(workspace.unit_url(SENDER)))
        sender_channel = await sender.channel(publisher_confirms=True)
        statuses = StatusWatch()
        status_channel = await sender.channel()
        await status_channel.set_qos(prefetch_count=1000)
        sender_queue = await status_channel.get_queue(names.unit_queue(SENDER))
        await sender_queue.consume(statuses.on_message, no_ack=True)
        recipient = await stack.enter_async_context(await connect(workspace.unit_url(RECIPIENT)))
        router_receiver = Receiver(router_key)
        await consume(recipient, names.unit_queue(RECIPIENT), router_receiver)
        router_route = Route(
            name="router",
            exchange=await sender_channel.get_exchange(names.inbound(SENDER), ensure=False),
            user_id=workspace.unit_user(SENDER),
            receiver=router_receiver,
            worker=router,
            log=router_log,
            queues=[
                names.intake_queue(SENDER),
                names.unit_queue(RECIPIENT),
                names.unit_queue(SENDER),
                names.dead_queue,
            ],
            statuses=statuses,
            metrics_port=workspace.config.router.metrics_port,
        )

        # The relay's path: the same driver, as guest on its own connections.
        relay_in = await stack.enter_async_context(await connect(workspace.amqp_url))
        relay_in_channel = await relay_in.channel(publisher_confirms=True)
        relay_out = await stack.enter_async_context(await connect(workspace.amqp_url))
        relay_receiver = Receiver(relay_key)
        await consume(relay_out, relay_names.output_queue, relay_receiver)
        relay_route = Route(
            name="relay",
            exchange=await relay_in_channel.get_exchange(relay_names.inbound, ensure=False),
            user_id=yarl.URL(workspace.amqp_url).user or "guest",
            receiver=relay_receiver,
            worker=relay,
            log=relay_log,
            queues=[relay_names.input_queue, relay_names.output_queue],
        )

        driver = Driver(admin, plan.window, plan.timeout, broker)
        results = []
        for size in plan.sizes:
            # Sealed before any clock starts. The relay and the router get the same documents:
            # the relay never reaches the ledger, so the ids are still new to the router.
            seal = workspace.sender_seal
            warmup = seal_documents(seal, size, plan.warmup)
            runs: list[tuple[list[Document], float | None]] = [
                (seal_documents(seal, size, plan.counts[size]), None)
            ]
            for rate in plan.rates(size):
                runs.append((seal_documents(seal, size, max(1, round(rate * plan.duration))), rate))
            for route in (relay_route, router_route):
                if warmup:
                    await driver.run(route, warmup, size, rate=None)
                for documents, paced_at in runs:
                    if not await roll_broker_log_over(broker):
                        machine.broker_log_rolled = False
                    result = await driver.run(route, documents, size, paced_at)
                    print(progress_line(result), flush=True)
                    results.append(result)
            del warmup, runs  # 30 s at 200/s of 64 KiB is 400 MB of bodies
        await use.note("at the end")
        return machine, results, use


class RouterUse:
    """The router's memory, and /metrics scrapes, at the start and at the end: does either
    grow with the documents routed (issue #19: flat over 100,000), or with the ledger?"""

    def __init__(self, pid: int, metrics_port: int) -> None:
        self.pid = pid
        self.metrics_port = metrics_port
        self.lines: list[str] = []

    async def note(self, when: str) -> None:
        rss, peak = rss_mib(self.pid)
        line = f"router {when}: RSS {rss:.1f} MiB (peak {peak:.1f} MiB)"
        if self.metrics_port:
            # Twice: the first may pay for what the next ones find done (cold pages, say).
            first, _ = await asyncio.to_thread(scrape_metrics, self.metrics_port)
            again, _ = await asyncio.to_thread(scrape_metrics, self.metrics_port)
            line += f"; /metrics scrape {first.describe()}, again {again.seconds * 1000:.1f} ms"
        print(line, flush=True)
        self.lines.append(line)


async def consume(connection: AbstractConnection, queue_name: str, receiver: Receiver) -> None:
    """A generous prefetch: the far end must never be what limits the measurement."""
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1000)
    queue = await channel.get_queue(queue_name)
    await queue.consume(receiver.on_message)


# Reporting.


def human_size(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ms_doc(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def run_label(result: Result) -> str:
    return "throughput" if result.rate is None else f"{result.rate:.0f}/s"


def progress_line(result: Result) -> str:
    what = run_label(result) if result.rate is None else f"{result.count} at {run_label(result)}"
    parts = [f"{result.route} {ms_doc(result.ms_per_doc('worker'))}"]
    if result.cpu.broker is not None:
        parts.append(f"broker {ms_doc(result.ms_per_doc('broker'))}")
    parts.append(f"driver {ms_doc(result.ms_per_doc('driver'))}")
    line = (
        f"  {human_size(result.size):>7} {result.route:<6} {what:<16} {result.per_second:8.0f}/s"
        f"  p50 {ms(result.percentile(50)):>7} ms  p99 {ms(result.percentile(99)):>7} ms"
        f"  {result.cpu.describe(result.route)}; CPU ms/doc: {', '.join(parts)}"
        f"; documents arrived in {result.arrival_messages} messages"
    )
    if result.answers is not None:
        line += f"; answers: {result.answers} in {result.answer_messages} messages"
    if result.stages:
        line += "; inside the router, mean ms: " + ", ".join(
            f"{STAGES[name]} {stage.describe()}" for name, stage in result.stages.items()
        )
    return line


def report(machine: Machine, plan: Plan, results: list[Result], use: RouterUse) -> bool:
    """Print the table and the verdict on each target; returns whether all were met."""
    print()
    print(
        f"machine: {machine.cores} cores ({machine.cpu}), RabbitMQ {machine.rabbitmq}, "
        f"Python {machine.python}, aio-pika {machine.aio_pika}, SQLite {machine.sqlite}"
    )
    print(
        "router: subprocess `python -m docex.cli router run`, prefetch "
        f"{PREFETCH}; relay: subprocess, same prefetch; quorum queues, persistent, confirms"
    )
    print(
        f"driver: window {plan.window} unconfirmed publishes; fixed rates for"
        f" {plan.duration:g} s; latency = publish → arrival at the far end;"
        " CPU ms/doc = cores x the meter's wall seconds / documents"
    )
    if machine.broker_log_rolled:
        print("broker: its write-ahead log rolled over and written out before every run")
    else:
        print(
            "broker: its write-ahead log could not be rolled over before each run (not a local"
            " broker?): at 64 KiB a run that meets its write-out is slower, whichever the route"
        )
    for line in use.lines:
        print(line)
    print()
    header = (
        f"{'size':>7}  {'run':<10} {'n':>5}  {'router docs/s':>13} {'relay msgs/s':>12}"
        f" {'ratio':>5}  {'router p50/p99 ms':>17}  {'relay p50/p99 ms':>16}"
        f"  {'router ms/doc':>13} {'relay ms/doc':>12}  {'broker ms/doc':>15}"
        f"  {'driver ms/doc':>15}  {'answers/msgs':>13}"
    )
    print(header)
    print(
        f"{'':>7}  {'':<10} {'':>5}  {'':>13} {'':>12} {'':>5}  {'':>17}  {'':>16}"
        f"  {'':>13} {'':>12}  {'router/relay':>15}  {'router/relay':>15}"
    )
    print("-" * len(header))
    by_key = {(r.route, r.size, r.rate): r for r in results}
    verdicts: list[tuple[str, bool]] = []
    for size in plan.sizes:
        for rate in [None, *plan.rates(size)]:
            router, relay = by_key[("router", size, rate)], by_key[("relay", size, rate)]
            ratio = router.per_second / relay.per_second

            def pair(process: str, router: Result = router, relay: Result = relay) -> str:
                mine, theirs = router.ms_per_doc(process), relay.ms_per_doc(process)
                return f"{ms_doc(mine):>6} / {ms_doc(theirs):<6}"

            print(
                f"{human_size(size):>7}  {run_label(router):<10} {router.count:>5}"
                f"  {router.per_second:>13.0f} {relay.per_second:>12.0f} {ratio:>5.2f}"
                f"  {ms(router.percentile(50)):>7} / {ms(router.percentile(99)):<7}"
                f"  {ms(relay.percentile(50)):>6} / {ms(relay.percentile(99)):<7}"
                f"  {ms_doc(router.ms_per_doc('worker')):>13}"
                f" {ms_doc(relay.ms_per_doc('worker')):>12}"
                f"  {pair('broker')}  {pair('driver')}"
                f"  {router.answers:>6}/{router.answer_messages:<6}"
            )
            verdicts.extend(verdicts_of(plan, size, rate, router, relay))
    print()
    for text, met in verdicts:
        print(f"  {'MET   ' if met else 'MISSED'} {text}")
    others = [r.cpu.other for r in results if r.cpu.other is not None]
    others.append(machine.background.other or 0.0)
    if max(others) > BUSY_MACHINE_CORES:
        print(
            f"\nWARNING: other processes used up to {max(others):.2f} cores during the runs"
            f" ({machine.background.other or 0.0:.2f} just before): these numbers are low and"
            " noisy; measure on an otherwise idle machine."
        )
    return all(met for _, met in verdicts)


def verdicts_of(
    plan: Plan, size: int, rate: float | None, router: Result, relay: Result
) -> list[tuple[str, bool]]:
    """The targets of issue #19 that this size and run answer, each with whether it was met."""
    name = human_size(size)
    if rate is None and size >= LARGE_SIZE:
        return [
            (
                f"{name}: router {router.per_second:.0f} docs/s"
                f" (target ≥ {TARGET_LARGE_PER_S:.0f})",
                router.per_second >= TARGET_LARGE_PER_S,
            )
        ]
    if rate is None:
        ratio = router.per_second / relay.per_second
        return [
            (
                f"{name}: router throughput {ratio:.0%} of the relay's"
                f" (target ≥ {TARGET_RATIO:.0%})",
                ratio >= TARGET_RATIO,
            )
        ]
    p99 = router.percentile(99)
    lagging = (
        f"; the driver fell up to {ms(router.max_lag)} ms behind its schedule"
        if router.max_lag > 0.010
        else ""
    )
    if router.per_second < 0.95 * rate:
        lagging += f"; only {router.per_second:.0f}/s arrived: a backlog grew, p99 is queueing"
    if rate == plan.rate:
        bound = relay.percentile(99) + TARGET_P99_MARGIN_S
        target = f"≤ relay p99 {ms(relay.percentile(99))} + {ms(TARGET_P99_MARGIN_S)} ms"
    else:
        bound = TARGET_HIGH_RATE_P99_S
        target = f"≤ {ms(TARGET_HIGH_RATE_P99_S)} ms"
    return [
        (
            f"{name}: router p99 {ms(p99)} ms at {rate:.0f}/s (target {target}){lagging}",
            p99 <= bound,
        )
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Router documents/s and send→deliver latency against a bare aio-pika relay.",
    )
    parser.add_argument(
        "--count",
        type=int,
        help="documents per throughput run, every size (default 3000 below 64 KiB, 2000"
        f" below {LARGE_SIZE}, 300 from {LARGE_SIZE}; --quick: 300, 200, 50)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help=f"documents/s of the fixed-rate run of each size below {LARGE_SIZE} (200)",
    )
    parser.add_argument(
        "--high-rate",
        type=float,
        default=500.0,
        help="documents/s of a second fixed-rate run, smallest size only (500; 0: none)",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds of each fixed-rate run (30; --quick: 2)"
    )
    parser.add_argument(
        "--sizes",
        default=f"1024,65536,{LARGE_SIZE}",
        help=f"body sizes in bytes, comma-separated (1024,65536,{LARGE_SIZE}); from"
        f" {LARGE_SIZE} on, throughput only",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts and 2 s fixed-rate runs: a smoke run"
    )
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        metavar="N",
        help="start the router on a ledger already holding N deliveries (0)",
    )
    parser.add_argument(
        "--warmup", type=int, help="unmeasured documents before each route's runs (100)"
    )
    parser.add_argument(
        "--window", type=int, default=500, help="most unconfirmed publishes in flight (500)"
    )
    parser.add_argument(
        "--timeout", type=float, help="seconds any one run may take (default from its size)"
    )
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL, help="an administrator's URL")
    parser.add_argument(
        "--router-log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the router's --log-level (info, as in production: a line per document)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir (ledger, logs) for a look after"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 2 when a target is missed (for CI)"
    )
    # The relay runs as this same script in a subprocess.
    parser.add_argument("--relay-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay-prefix", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def interrupt_on_sigterm() -> None:
    """`timeout` and `kill` stop a run with SIGTERM: clean up as after Ctrl-C."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.relay_worker:
        asyncio.run(serve_relay(args.amqp_url, args.relay_prefix))
        return 0
    plan = Plan.from_args(args)
    interrupt_on_sigterm()
    cleanup = Cleanup(f"bench{secrets.token_hex(5)}", args.amqp_url, keep_dir=args.keep)
    print(f"run {cleanup.prefix}: setting up a CA, seals, broker users and the router…")
    workspace: Workspace | None = None
    try:
        workspace = set_up(cleanup, metrics_port=free_port())
        if args.prefill:
            print(prefill_ledger(workspace, args.prefill), flush=True)
        router = start_router(workspace, args.router_log_level, cleanup)
        relay = start_relay(workspace, cleanup)
        machine, results, use = asyncio.run(measure(workspace, plan, router, relay, broker_pid()))
        met = report(machine, plan, results, use)
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        if workspace is not None:
            print(f"router log (tail):\n{log_tail(workspace.directory / 'router.log')}")
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        cleanup.run()
    return 2 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
