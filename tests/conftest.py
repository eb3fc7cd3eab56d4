"""Shared fixtures: a real broker, real seals, a real ledger file, and a clock tests can move.

Every test session works under its own prefix (queues, exchanges, broker users), so runs on
the same broker never see each other's messages; each test starts from empty queues.

The broker is the machine's RabbitMQ, which others use at the same time: a test module that
stops, kills or clusters brokers overrides `broker` and `broker_users` with a private node
(`private_rabbit`, `rabbit_cluster`; tests/brokers.py), as tests/edge/test_faults.py does.
Likewise a test that restarts Mosquitto runs its own (`private_mosquitto`; tests/mosquitto.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import msgspec
import pytest
import pytest_asyncio

from docex import topology
from docex.config import Config, load_config
from docex.exchange_date import library_covers
from docex.ledger.admin import init_ledger
from docex.ledger.location import is_postgresql
from docex.router.provision import SYSTEM_RABBITMQCTL, provision, unit_password
from docex.router.service import Router
from docex.seals.ca import init_ca
from docex.seals.kinds import SealKind
from docex.seals.seal import Seal, issue_seal
from docex.unit.client import UnitClient
from docex.unit.settings import UnitSettings
from tests import brokers, mosquitto

BROKER = "127.0.0.1:5672"
UNITS = {"gov-office": "市府办公厅", "finance": "市财政局", "education": "市教育局"}
REVOKED_UNIT = "archive"
SEAL_PASSWORD = "carrier-password"
# A Thursday, 10:00 in Beijing: a workday morning.
WORKDAY_MORNING = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca_certificate: Path
    signing: dict[str, Seal]
    verification: dict[str, Seal]
    foreign_signing: Seal
    exchange: Seal

    def carrier(self, unit: str) -> Path:
        return self.directory / f"{unit}-signing.carrier"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ledger",
        choices=["sqlite", "postgres"],
        default=os.environ.get("DOCEX_TEST_LEDGER", "sqlite"),
        help="the ledger the routers under test keep: a SQLite file (default) or a schema"
        " of their own on the PostgreSQL server ($DOCEX_TEST_POSTGRES, else 127.0.0.1:5432)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--ledger") != "postgres":
        return
    skip = pytest.mark.skip(reason="looks into the SQLite file itself; run with --ledger=sqlite")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


@dataclass(frozen=True)
class Broker:
    """Where a test's router and units connect (host:port), and the rabbitmqctl command that
    administers that node."""

    address: str
    rabbitmqctl: Sequence[str]


@pytest.fixture(scope="session")
def broker() -> Broker:
    """The machine's RabbitMQ; see the module doc for tests that need a broker of their own."""
    return Broker(BROKER, SYSTEM_RABBITMQCTL)


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[brokers.PrivateRabbit]:
    """One private RabbitMQ node for this module's tests, removed however they end."""
    with brokers.running(1) as rabbit:
        yield rabbit


@pytest.fixture(scope="module")
def rabbit_cluster() -> Iterator[brokers.PrivateRabbit]:
    """A private cluster of three RabbitMQ nodes for this module's tests, with the
    consistent-hash exchange that partitioned intake needs (SCALE.md D4)."""
    with brokers.running(3, plugins=["rabbitmq_consistent_hash_exchange"]) as cluster:
        yield cluster


def private_broker(rabbit: brokers.PrivateRabbit, i: int = 0) -> Broker:
    """Node i of a private cluster, as the `broker` fixture of a module that overrides it."""
    return Broker(rabbit.nodes[i].address, rabbit.ctl_command(i))


@pytest.fixture
def private_mosquitto(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[mosquitto.PrivateMosquitto]:
    """This test's own Mosquitto (tests/mosquitto.py), which it may stop, kill and restart.
    With persistence unless the test asks otherwise:
    `@pytest.mark.parametrize("private_mosquitto", [False], indirect=True)`."""
    persistence = getattr(request, "param", True)
    with mosquitto.running(tmp_path / "mosquitto", persistence=persistence) as broker:
        yield broker


@pytest.fixture(scope="session")
def prefix() -> str:
    return f"test{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_database(prefix: str) -> Iterator[str]:
    """The run's own PostgreSQL database, made at first use and dropped at the end."""
    from tests.postgres import run_database

    with run_database(prefix) as name:
        yield name


@pytest.fixture
def ledger_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | Path]:
    """Where this test's router keeps its ledger: a SQLite file in the test's directory, or,
    with --ledger=postgres, a new schema in the run's PostgreSQL database."""
    if request.config.getoption("--ledger") == "sqlite":
        yield tmp_path / "ledger.sqlite"
        return
    from tests.postgres import schema_url

    with schema_url(request.getfixturevalue("postgres_database")) as url:
        yield url


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = init_ca(directory / "ca", "测试交换CA", now=WORKDAY_MORNING)
    foreign = init_ca(directory / "foreign", "另一个CA", now=WORKDAY_MORNING)
    signing = {}
    verification = {}
    for unit, name in UNITS.items():
        signing[unit] = issue_seal(
            ca,
            unit,
            name,
            SealKind.SIGNING,
            directory / f"{unit}-signing.carrier",
            SEAL_PASSWORD,
            now=WORKDAY_MORNING,
        )
        verification[unit] = issue_seal(
            ca,
            unit,
            name,
            SealKind.VERIFICATION,
            directory / f"{unit}-verification.carrier",
            SEAL_PASSWORD,
            now=WORKDAY_MORNING,
        )
    foreign_signing = issue_seal(
        foreign,
        "gov-office",
        UNITS["gov-office"],
        SealKind.SIGNING,
        directory / "foreign-signing.carrier",
        SEAL_PASSWORD,
        now=WORKDAY_MORNING,
    )
    exchange = issue_seal(
        ca,
        "exchange",
        "电子公文交换系统",
        SealKind.EXCHANGE,
        directory / "exchange.carrier",
        SEAL_PASSWORD,
        now=WORKDAY_MORNING,
    )
    (directory / "exchange.password").write_text(SEAL_PASSWORD)
    return Pki(
        directory, directory / "ca" / "ca.crt", signing, verification, foreign_signing, exchange
    )


def amqp_user(prefix: str, unit: str) -> str:
    return f"{prefix}-{unit}"


def _uncovered_around_today() -> list[int]:
    today = date.today()
    return [year for year in (today.year, today.year + 1) if not library_covers(year)]


def write_router_config(
    path: Path, prefix: str, pki: Pki, ledger: str | Path, broker: str = BROKER
) -> Path:
    units = "".join(
        f'[[units]]\nid = "{unit}"\nname = "{name}"\namqp_user = "{amqp_user(prefix, unit)}"\n\n'
        for unit, name in UNITS.items()
    )
    units += (
        f'[[units]]\nid = "{REVOKED_UNIT}"\nname = "市档案局"\n'
        f'amqp_user = "{amqp_user(prefix, REVOKED_UNIT)}"\nstatus = "revoked"\n'
    )
    path.write_text(
        f"""
[router]
amqp_url = "amqp://guest:guest@{broker}/"
prefix = "{prefix}"
ledger = "{ledger}"
max_document_bytes = 262144
max_message_bytes = 1048576
allowed_formats = ["ceb", "pdf", "ofd"]
office_unit = "gov-office"
metrics_port = 0
seal_carrier = "{pki.directory / "exchange.carrier"}"
seal_password_file = "{pki.directory / "exchange.password"}"

[exchange]
timezone = "Asia/Shanghai"
cutoff = 15:00:00
holidays = [2026-10-01, 2026-10-02, 2026-10-05, 2026-10-06, 2026-10-07]
workdays = [2026-10-10]
# Routers on the real clock (`docex router run`) count weekends only in a year the calendar
# does not know yet, so the suite passes across New Year; tests/edge/test_calendar.py, which
# tests the refusal, takes this out.
allow_uncovered_years = {_uncovered_around_today()}

[seals]
ca_certificate = "{pki.ca_certificate}"

[links]
# Tests call router.linkwatch.check() themselves after moving the clock.
check_interval_s = 3600

[information]
# Tests call router.infowatch.check() themselves after moving the clock.
check_interval_s = 3600
reader_groups = {{ all = ["gov-office", "finance", "education", "archive"] }}

{units}"""
    )
    # The router never makes its own ledger: as an operator would (`docex ledger init`).
    if not is_postgresql(ledger) and not Path(ledger).exists():
        init_ledger(Path(ledger))
    return path


def provision_units(broker: Broker, prefix: str, pki: Pki, directory: Path) -> Config:
    """Give the units their broker accounts, by the same code operators run; the passwords
    are in `directory`/passwords."""
    config = load_config(
        write_router_config(directory / "router.toml", prefix, pki, directory, broker.address)
    )
    provision(config, directory / "passwords", rabbitmqctl=broker.rabbitmqctl)
    return config


@pytest.fixture(scope="session")
def broker_users(
    broker: Broker, prefix: str, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The units' broker accounts, removed afterwards."""
    directory = tmp_path_factory.mktemp("broker")
    config = provision_units(broker, prefix, pki, directory)
    yield directory / "passwords"
    for unit in config.units:
        subprocess.run(
            [*broker.rabbitmqctl, "--quiet", "delete_user", unit.amqp_user], capture_output=True
        )


@pytest.fixture
def revokes_units(prefix: str, pki: Pki, broker_users: Path, tmp_path: Path) -> Iterator[None]:
    """For a test that revokes units on reload (§9), which takes their broker users'
    permissions away: the session's users get them back afterwards."""
    yield
    config = load_config(write_router_config(tmp_path / "restored.toml", prefix, pki, tmp_path))
    provision(config, broker_users)


@pytest.fixture(scope="session", autouse=True)
def broker_objects(prefix: str) -> Iterator[None]:
    """Whatever this run declared on the broker (queues, exchanges) is removed at its end; a
    run that declared nothing (tests/core with RabbitMQ stopped) touches no broker."""
    yield
    asyncio.run(delete_broker_objects(prefix))


async def delete_broker_objects(prefix: str) -> None:
    """Leave the broker as the run found it: no queue or exchange of this run survives it."""

    def names(kind: str) -> list[str]:
        listed = subprocess.run(
            ["rabbitmqctl", "--quiet", "--no-table-headers", f"list_{kind}", "name"],
            capture_output=True,
            text=True,
        )
        if listed.returncode != 0:
            return []  # no broker running: nothing of this run can be on it
        return [name for name in listed.stdout.split() if name.startswith(f"{prefix}.")]

    queues, exchanges = names("queues"), names("exchanges")
    if not queues and not exchanges:
        return
    connection = await aio_pika.connect(f"amqp://guest:guest@{BROKER}/")
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)


@pytest.fixture
def config_file(
    tmp_path: Path, prefix: str, pki: Pki, ledger_location: str | Path, broker: Broker
) -> Path:
    """A router's config for this test; loading it needs no broker."""
    return write_router_config(
        tmp_path / "router.toml", prefix, pki, ledger_location, broker.address
    )


@pytest.fixture
def config(config_file: Path) -> Config:
    return load_config(config_file)


@pytest.fixture
def free_port() -> int:
    """A port for the router's metrics and probes, for tests that ask them over HTTP."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(WORKDAY_MORNING)


@pytest_asyncio.fixture
async def empty_queues(config: Config) -> None:
    """Start every test from a declared topology with nothing left in it."""
    names = topology.Names(config.router.prefix)
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        await topology.declare(
            connection, names, [unit.id for unit in config.units], config.router.intake_limit
        )
        channel = await connection.channel()
        for queue_name in [names.dead_queue] + [
            name
            for unit in config.units
            for name in (names.unit_queue(unit.id), names.intake_queue(unit.id))
        ]:
            queue = await channel.get_queue(queue_name, ensure=False)
            await queue.purge()


@pytest_asyncio.fixture
async def router(
    config: Config, config_file: Path, clock: FakeClock, empty_queues: None
) -> AsyncIterator[Router]:
    running = Router(config, clock, config_path=config_file)
    await running.start()
    yield running
    await running.stop(flush_timeout=2.0)


def unit_settings(
    prefix: str, pki: Pki, passwords: Path, unit: str, mailboxes: Path, broker: str = BROKER
) -> UnitSettings:
    password = unit_password(passwords, unit)
    return UnitSettings(
        unit=unit,
        amqp_url=f"amqp://{amqp_user(prefix, unit)}:{password}@{broker}/",
        prefix=prefix,
        seal_carrier=str(pki.carrier(unit)),
        ca_certificate=str(pki.ca_certificate),
        mailbox=str(mailboxes / f"{unit}.sqlite"),
    )


UnitClientFactory = Callable[[str], UnitClient]


@pytest.fixture
def unit_client_for(
    prefix: str, pki: Pki, broker: Broker, broker_users: Path, tmp_path: Path
) -> UnitClientFactory:
    """Makes a unit's client (an async context manager), with its mailbox in this test's dir."""
    return lambda unit: UnitClient(
        unit_settings(prefix, pki, broker_users, unit, tmp_path / "mailboxes", broker.address)
    )


UnitConfigWriter = Callable[..., Path]


@pytest.fixture
def unit_config(
    prefix: str, pki: Pki, broker: Broker, broker_users: Path, tmp_path: Path
) -> UnitConfigWriter:
    """Writes a unit's settings file, as `docex unit --config` reads it; keyword arguments
    change its fields."""

    def write(unit: str, **changes: str) -> Path:
        settings = unit_settings(
            prefix, pki, broker_users, unit, tmp_path / "mailboxes", broker.address
        )
        settings = msgspec.structs.replace(settings, **changes)
        path = tmp_path / f"{unit}.toml"
        fields = msgspec.structs.asdict(settings)
        path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items()))
        return path

    return write


@pytest_asyncio.fixture
async def units(
    router: Router, unit_client_for: UnitClientFactory
) -> AsyncIterator[dict[str, UnitClient]]:
    """A connected client for each unit, with the router running."""
    async with contextlib.AsyncExitStack() as stack:
        yield {unit: await stack.enter_async_context(unit_client_for(unit)) for unit in UNITS}


T = TypeVar("T")


async def eventually(found: Callable[[], T | None], what: str, timeout: float = 10) -> T:
    """Poll: ledger rows and broker counts have no event to wait on."""
    for _ in range(int(timeout / 0.02)):
        if result := found():
            return result
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.asynccontextmanager
async def in_background(
    work: Coroutine[Any, Any, None], ready: asyncio.Event
) -> AsyncIterator[None]:
    """Run `work` as a task while the context lasts, entered once `ready` is set; cancelled
    on the way out, as a process is stopped."""
    task = asyncio.create_task(work)
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
