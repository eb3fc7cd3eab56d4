"""Shared fixtures: a real broker, real seals, a real ledger file, and a clock tests can move.

Every test session works under its own prefix (queues, exchanges, broker users), so runs on
the same broker never see each other's messages; each test starts from empty queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import msgspec
import pytest
import pytest_asyncio

from docex import topology
from docex.config import Config, load_config
from docex.ledger.admin import init_ledger
from docex.router.provision import provision, unit_password
from docex.router.service import Router
from docex.seals.ca import init_ca
from docex.seals.kinds import SealKind
from docex.seals.seal import Seal, issue_seal
from docex.unit.client import UnitClient
from docex.unit.settings import UnitSettings

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


@pytest.fixture(scope="session")
def prefix() -> str:
    return f"test{uuid.uuid4().hex[:10]}"


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


def write_router_config(path: Path, prefix: str, pki: Pki, ledger: Path) -> Path:
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
amqp_url = "amqp://guest:guest@{BROKER}/"
prefix = "{prefix}"
ledger = "{ledger}"
max_document_bytes = 262144
max_message_bytes = 1048576
allowed_formats = ["pdf", "ofd"]
office_unit = "gov-office"
metrics_port = 0
seal_carrier = "{pki.directory / "exchange.carrier"}"
seal_password_file = "{pki.directory / "exchange.password"}"

[exchange]
timezone = "Asia/Shanghai"
cutoff = 15:00:00
holidays = [2026-10-01, 2026-10-02, 2026-10-05, 2026-10-06, 2026-10-07]
workdays = [2026-10-10]

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
    if not ledger.exists():
        init_ledger(ledger)
    return path


@pytest.fixture(scope="session")
def broker_users(prefix: str, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The units' broker accounts, made by the same code operators run; removed afterwards."""
    directory = tmp_path_factory.mktemp("broker")
    config = load_config(
        write_router_config(directory / "router.toml", prefix, pki, directory / "l.sqlite")
    )
    provision(config, directory / "passwords")
    yield directory / "passwords"
    for unit in config.units:
        subprocess.run(
            ["rabbitmqctl", "--quiet", "delete_user", unit.amqp_user], capture_output=True
        )


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
def config_file(tmp_path: Path, prefix: str, pki: Pki) -> Path:
    """A router's config for this test; loading it needs no broker."""
    return write_router_config(tmp_path / "router.toml", prefix, pki, tmp_path / "ledger.sqlite")


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
    prefix: str, pki: Pki, passwords: Path, unit: str, mailboxes: Path
) -> UnitSettings:
    password = unit_password(passwords, unit)
    return UnitSettings(
        unit=unit,
        amqp_url=f"amqp://{amqp_user(prefix, unit)}:{password}@{BROKER}/",
        prefix=prefix,
        seal_carrier=str(pki.carrier(unit)),
        ca_certificate=str(pki.ca_certificate),
        mailbox=str(mailboxes / f"{unit}.sqlite"),
    )


UnitClientFactory = Callable[[str], UnitClient]


@pytest.fixture
def unit_client_for(prefix: str, pki: Pki, broker_users: Path, tmp_path: Path) -> UnitClientFactory:
    """Makes a unit's client (an async context manager), with its mailbox in this test's dir."""
    return lambda unit: UnitClient(
        unit_settings(prefix, pki, broker_users, unit, tmp_path / "mailboxes")
    )


UnitConfigWriter = Callable[..., Path]


@pytest.fixture
def unit_config(prefix: str, pki: Pki, broker_users: Path, tmp_path: Path) -> UnitConfigWriter:
    """Writes a unit's settings file, as `docex unit --config` reads it; keyword arguments
    change its fields."""

    def write(unit: str, **changes: str) -> Path:
        settings = unit_settings(prefix, pki, broker_users, unit, tmp_path / "mailboxes")
        settings = msgspec.structs.replace(settings, **changes)
        path = tmp_path / f"{unit}.toml"
        fields = msgspec.structs.asdict(settings)
        path.write_text("".join(f'{key} = "{value}"\n' for key, value in fields.items()))
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
