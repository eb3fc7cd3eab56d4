"""The MQTT bridge against a real Mosquitto, RabbitMQ and router: a unit whose office system
speaks only MQTT sends and receives like an AMQP unit, and restarts on either side lose nothing.

Every test has a Mosquitto of its own (`private_mosquitto`), which it may restart: its
persistent sessions go with it, and the machine's Mosquitto is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from docex import wire
from docex.adapters.mqtt.bridge import Bridge
from docex.adapters.mqtt.session import message_id, with_message_id
from docex.adapters.mqtt.settings import BridgeSettings, MqttSettings, load_bridge_settings
from docex.ids import uuid7
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.command_line import docex_process, line_with
from tests.conftest import Pki, eventually, in_background, unit_settings
from tests.documents import sealed_envelope, submit
from tests.edge.test_hotfolder import REPO, docex, write_unit_settings
from tests.mosquitto import PrivateMosquitto

MQTT_HOST = "127.0.0.1"
OFFICE = "gov-office"
T = TypeVar("T")


def persistent(client_id: str, port: int) -> aiomqtt.Client:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    return aiomqtt.Client(
        MQTT_HOST,
        port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    )


@dataclass(frozen=True)
class Received:
    topic: str
    message_id: str | None
    message: wire.RouterMessage


class Office:
    """An office system on MQTT, written as an integrator would: it listens on its unit's
    `in/` topics with a persistent session, and publishes with QoS 1, again under the same
    message id until Mosquitto acknowledges."""

    def __init__(self, prefix: str, unit: str, port: int) -> None:
        self.prefix = prefix
        self.unit = unit
        self.port = port
        self.client_id = f"{prefix}-office-{unit}"
        self.received: list[Received] = []
        self.subscribed = asyncio.Event()
        self._arrived = asyncio.Event()

    async def listen(self) -> None:
        while True:
            try:
                async with persistent(self.client_id, self.port) as client:
                    await client.subscribe(f"{self.prefix}/{self.unit}/in/#", qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        decoded = wire.decode_router_message(message.payload)
                        self.received.append(
                            Received(message.topic.value, message_id(message), decoded)
                        )
                        self._arrived.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def send(self, type_: str, body: bytes, command_id: str | None = None) -> None:
        topic = f"{self.prefix}/{self.unit}/out/{type_}"
        properties = with_message_id(command_id) if command_id else None
        async with asyncio.timeout(60):
            while True:
                try:
                    client = aiomqtt.Client(
                        MQTT_HOST, self.port, protocol=aiomqtt.ProtocolVersion.V5
                    )
                    async with client:
                        await client.publish(topic, body, qos=1, properties=properties, timeout=5)
                    return
                except aiomqtt.MqttError:
                    await asyncio.sleep(0.2)

    async def until(self, found: Callable[[list[Received]], T | None], timeout: float = 15) -> T:
        """Wait for what the office system has received to contain `found`."""
        async with asyncio.timeout(timeout):
            while True:
                self._arrived.clear()
                if (result := found(self.received)) is not None:
                    return result
                await self._arrived.wait()


BridgeFor = Callable[[str], AbstractAsyncContextManager[Bridge]]
OfficeOf = Callable[[str], AbstractAsyncContextManager[Office]]


@pytest.fixture
def bridge_for(
    router: Router,
    prefix: str,
    pki: Pki,
    broker_users: Path,
    tmp_path: Path,
    private_mosquitto: PrivateMosquitto,
) -> BridgeFor:
    """Runs a unit's bridge in this process while the context lasts; the unit's persistent
    session in Mosquitto outlives it, as it outlives a restart."""

    @contextlib.asynccontextmanager
    async def run(unit: str) -> AsyncIterator[Bridge]:
        mqtt = MqttSettings(
            port=private_mosquitto.port, topic_prefix=prefix, client_id=f"{prefix}-bridge-{unit}"
        )
        settings = BridgeSettings(
            unit=unit_settings(prefix, pki, broker_users, unit, tmp_path / "bridge"),
            mqtt=mqtt,
            mqtt_password=None,
        )
        async with UnitClient(settings.unit) as client:
            bridge = Bridge(settings, client)
            async with in_background(bridge.run(), bridge.connected):
                yield bridge

    return run


@pytest.fixture
def office_of(prefix: str, private_mosquitto: PrivateMosquitto) -> OfficeOf:
    """The office system of a unit, listening on its `in/` topics."""

    @contextlib.asynccontextmanager
    async def run(unit: str) -> AsyncIterator[Office]:
        office = Office(prefix, unit, private_mosquitto.port)
        async with in_background(office.listen(), office.subscribed):
            yield office

    return run


async def delivered(client: UnitClient, count: int, timeout: float = 15) -> list[wire.Deliver]:
    def found() -> list[wire.Deliver] | None:
        deliveries = [stored.deliver for stored in client.mailbox.deliveries()]
        return deliveries if len(deliveries) >= count else None

    return await client.wait_for(found, timeout)


def answers_to(command_id: str) -> Callable[[list[Received]], list[Received] | None]:
    def found(received: list[Received]) -> list[Received] | None:
        return [
            r
            for r in received
            if isinstance(r.message, wire.Status) and r.message.ref == command_id
        ] or None

    return found


def accepted_at_least(count: int) -> Callable[[list[Received]], list[wire.Status] | None]:
    def found(received: list[Received]) -> list[wire.Status] | None:
        statuses = [r.message for r in received if isinstance(r.message, wire.Status)]
        accepted = [status for status in statuses if status.state == "accepted"]
        return accepted if len(accepted) >= count else None

    return found


def deliveries_at_least(count: int) -> Callable[[list[Received]], dict[str, int] | None]:
    """Copies received per document id, once `count` distinct documents are in."""

    def found(received: list[Received]) -> dict[str, int] | None:
        copies: dict[str, int] = {}
        for r in received:
            if isinstance(r.message, wire.Deliver):
                copies[r.message.envelope.id] = copies.get(r.message.envelope.id, 0) + 1
        return copies if len(copies) >= count else None

    return found


async def test_a_submit_published_on_mqtt_reaches_an_amqp_unit(
    bridge_for: BridgeFor,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    router: Router,
    prefix: str,
) -> None:
    """§13–§17: the bridge speaks to the exchange as the unit's own broker user, so what the
    office system publishes is the unit's; the router's answer comes back on the unit's `in/`
    topic under the message id the office system gave the command."""
    envelope = sealed_envelope(pki.signing[OFFICE], cc=["education"])
    command_id = uuid7()
    async with office_of(OFFICE) as office, bridge_for(OFFICE):
        await office.send("submit", wire.encode(submit(envelope)), command_id)
        [deliver] = await delivered(units["finance"], 1)
        [answer] = await office.until(answers_to(command_id))

    assert deliver.envelope == envelope
    assert answer.topic == f"{prefix}/{OFFICE}/in/status"
    assert isinstance(answer.message, wire.Status) and answer.message.state == "accepted"
    assert answer.message_id, "the router's own message id rides along"
    stored = router.ledger.document(envelope.id)
    assert stored is not None and stored.sender == OFFICE


async def test_the_bridge_beats_for_its_unit_while_connected(
    bridge_for: BridgeFor, router: Router
) -> None:
    """§46: a connected bridge keeps its unit's link alive in the router's link watch."""
    async with bridge_for(OFFICE) as bridge:
        assert bridge.connected.is_set()

        def beating() -> bool:
            link = router.ledger.link(OFFICE)
            return link is not None and link.heartbeats

        assert await eventually(beating, "a heartbeat from the bridge")


async def test_a_command_without_a_message_id_gets_a_uuid7_from_the_bridge(
    bridge_for: BridgeFor, office_of: OfficeOf, pki: Pki
) -> None:
    """An office system on MQTT 3.1.1 cannot set user properties: the bridge names its command
    with a fresh UUIDv7, which the answer's `ref` carries back."""
    envelope = sealed_envelope(pki.signing[OFFICE])
    async with office_of(OFFICE) as office, bridge_for(OFFICE):
        await office.send("submit", wire.encode(submit(envelope)))
        [answer] = await office.until(
            lambda received: (
                [r.message for r in received if isinstance(r.message, wire.Status)] or None
            )
        )
    assert isinstance(answer, wire.Status) and answer.state == "accepted"
    assert uuid.UUID(answer.ref).version == 7


async def test_a_document_sent_over_amqp_reaches_the_office_system_on_mqtt(
    bridge_for: BridgeFor,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    prefix: str,
) -> None:
    """§31: an AMQP unit's document reaches the MQTT unit's office system as the router
    delivered it: the same sealed envelope, its role and print copies."""
    envelope = sealed_envelope(pki.signing[OFFICE], print_quota={"finance": 2})
    async with office_of("finance") as office, bridge_for("finance"):
        answer = await units[OFFICE].request(submit(envelope))
        assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
        copies = await office.until(deliveries_at_least(1))
        [received] = [r for r in office.received if isinstance(r.message, wire.Deliver)]

    assert copies == {envelope.id: 1}
    assert received.topic == f"{prefix}/finance/in/deliver"
    assert received.message_id
    deliver = received.message
    assert isinstance(deliver, wire.Deliver)
    assert (deliver.envelope, deliver.role, deliver.print_quota) == (envelope, "main", 2)


async def test_what_the_office_sends_while_the_bridge_is_down_goes_once_it_is_back(
    bridge_for: BridgeFor, office_of: OfficeOf, units: dict[str, UnitClient], pki: Pki
) -> None:
    """A bridge restart loses nothing: Mosquitto keeps the bridge's session and what the
    office system publishes meanwhile; the router's answers wait in the unit's queue."""
    count = 20
    envelopes = [sealed_envelope(pki.signing[OFFICE]) for _ in range(count)]
    async with office_of(OFFICE) as office:
        async with bridge_for(OFFICE):
            pass  # The bridge has been here once: its session is what keeps the messages.
        for envelope in envelopes:
            await office.send("submit", wire.encode(submit(envelope)), uuid7())
        async with bridge_for(OFFICE):
            deliveries = await delivered(units["finance"], count)
            accepted = await office.until(accepted_at_least(count))
    assert {deliver.envelope.id for deliver in deliveries} == {e.id for e in envelopes}
    assert {status.doc_id for status in accepted} == {e.id for e in envelopes}


@pytest.mark.parametrize("private_mosquitto", [False], indirect=True)
async def test_after_a_mosquitto_restart_that_kept_nothing_the_bridge_subscribes_again(
    bridge_for: BridgeFor,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    private_mosquitto: PrivateMosquitto,
) -> None:
    """A Mosquitto without persistence (or one killed) comes back without the bridge's session
    and its subscription: the bridge subscribes on every connect, not only the first, so the
    office system's commands reach the exchange again."""
    envelope = sealed_envelope(pki.signing[OFFICE])
    async with office_of(OFFICE) as office, bridge_for(OFFICE) as bridge:
        await asyncio.to_thread(private_mosquitto.stop)
        await eventually(lambda: not bridge.connected.is_set(), "the bridge to see Mosquitto go")
        await asyncio.to_thread(private_mosquitto.start)
        await asyncio.wait_for(bridge.connected.wait(), 15)
        await office.send("submit", wire.encode(submit(envelope)), uuid7())
        [deliver] = await delivered(units["finance"], 1)
    assert deliver.envelope.id == envelope.id


async def test_a_command_is_acked_to_mosquitto_only_once_rabbitmq_confirmed_it(
    bridge_for: BridgeFor,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bridge that dies while RabbitMQ has not confirmed a command has not acknowledged it
    to Mosquitto either: the next bridge gets it again, and it arrives."""
    envelope = sealed_envelope(pki.signing[OFFICE])
    unconfirmed = asyncio.Event()

    async def never_confirmed(*args: object) -> None:
        unconfirmed.set()
        await asyncio.Event().wait()

    async with office_of(OFFICE) as office:
        with monkeypatch.context() as patch:
            patch.setattr(UnitClient, "publish_encoded", never_confirmed)
            async with bridge_for(OFFICE):
                await office.send("submit", wire.encode(submit(envelope)), uuid7())
                await asyncio.wait_for(unconfirmed.wait(), 10)
        async with bridge_for(OFFICE):
            [deliver] = await delivered(units["finance"], 1)
    assert deliver.envelope.id == envelope.id


async def test_a_delivery_is_acked_to_rabbitmq_only_once_mosquitto_has_it(
    bridge_for: BridgeFor,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bridge that dies before Mosquitto acknowledged a delivery leaves it unacknowledged in
    the unit's queue: the next bridge passes it on, and the office system gets it."""
    envelope = sealed_envelope(pki.signing[OFFICE])
    unacknowledged = asyncio.Event()

    async def never_acknowledged(*args: object, **kwargs: object) -> None:
        unacknowledged.set()
        await asyncio.Event().wait()

    async with office_of("finance") as office:
        with monkeypatch.context() as patch:
            patch.setattr(aiomqtt.Client, "publish", never_acknowledged)
            async with bridge_for("finance"):
                await units[OFFICE].publish(submit(envelope), uuid7())
                await asyncio.wait_for(unacknowledged.wait(), 10)
        async with bridge_for("finance"):
            copies = await office.until(deliveries_at_least(1))
    assert copies == {envelope.id: 1}


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_mosquitto_restart_mid_stream_loses_nothing(
    bridge_for: BridgeFor,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    router: Router,
    private_mosquitto: PrivateMosquitto,
) -> None:
    """Both ways at once, Mosquitto restarted in the middle: every document the office system
    sent reaches finance once, and every document sent to the office system reaches it."""
    count = 100
    outgoing = [sealed_envelope(pki.signing[OFFICE]) for _ in range(count)]
    incoming = [
        sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE]) for _ in range(count)
    ]
    finance = units["finance"]

    async with office_of(OFFICE) as office, bridge_for(OFFICE):
        half = count // 2
        await asyncio.gather(
            *(office.send("submit", wire.encode(submit(e)), uuid7()) for e in outgoing[:half]),
            *(finance.publish(submit(e), uuid7()) for e in incoming[:half]),
        )
        await delivered(finance, count // 8)
        await asyncio.to_thread(private_mosquitto.restart)
        await asyncio.gather(
            *(office.send("submit", wire.encode(submit(e)), uuid7()) for e in outgoing[half:]),
            *(finance.publish(submit(e), uuid7()) for e in incoming[half:]),
        )
        deliveries = await delivered(finance, count, timeout=90)
        copies = await office.until(deliveries_at_least(count), timeout=90)

    assert {deliver.envelope.id for deliver in deliveries} == {e.id for e in outgoing}
    assert all(len(router.ledger.deliveries(e.id)) == 1 for e in outgoing)
    assert set(copies) == {e.id for e in incoming}


async def test_the_command_bridges_until_sigterm(
    router: Router,
    office_of: OfficeOf,
    units: dict[str, UnitClient],
    pki: Pki,
    prefix: str,
    broker_users: Path,
    tmp_path: Path,
    private_mosquitto: PrivateMosquitto,
) -> None:
    """`docex adapter mqtt` as systemd runs it: from its settings file until SIGTERM."""
    unit_file = write_unit_settings(
        tmp_path / "unit.toml", unit_settings(prefix, pki, broker_users, OFFICE, tmp_path)
    )
    client_id = f"{prefix}-cli-bridge"
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'unit_settings = "{unit_file}"\n'
        f'[mqtt]\nport = {private_mosquitto.port}\ntopic_prefix = "{prefix}"\n'
        f'client_id = "{client_id}"\n'
    )
    envelope = sealed_envelope(pki.signing[OFFICE])
    bridge = await docex_process(
        "adapter", "mqtt", "--config", str(config), stderr=asyncio.subprocess.PIPE
    )
    try:
        await line_with(bridge.stderr, b"bridge_connected", timeout=30)
        async with office_of(OFFICE) as office:
            await office.send("submit", wire.encode(submit(envelope)), uuid7())
            [deliver] = await delivered(units["finance"], 1)
    finally:
        bridge.send_signal(signal.SIGTERM)
        stopped = await asyncio.wait_for(bridge.wait(), 30)
    assert deliver.envelope.id == envelope.id
    assert stopped == 0


async def test_the_command_refuses_bad_settings_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text('unit_settings = "missing.toml"\n[mqtt]\nhots = "x"\n')
    code, output = await docex("adapter", "mqtt", "--config", str(config))
    assert code == 2
    assert output.startswith("error: ") and output.count("\n") == 1, output


def test_the_example_settings_load(
    tmp_path: Path, prefix: str, pki: Pki, broker_users: Path
) -> None:
    """The example an operator copies is valid as shipped (less the password file)."""
    text = (REPO / "config" / "mqtt-example.toml").read_text()
    (tmp_path / "bridge.toml").write_text(text.replace("password_file =", "# "))
    write_unit_settings(
        tmp_path / "unit-example.toml",
        unit_settings(prefix, pki, broker_users, "finance", tmp_path),
    )
    settings = load_bridge_settings(tmp_path / "bridge.toml")
    assert (settings.unit.unit, settings.client_id) == ("finance", "docex-bridge-finance")
    assert settings.mqtt.topic_prefix == "docex"
