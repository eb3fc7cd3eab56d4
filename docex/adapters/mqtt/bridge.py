"""Forwarding both ways between a unit's Mosquitto and the exchange. Each message is
acknowledged on the side it came from only once the other side has confirmed it, so a crash or
a broker restart anywhere leaves it unacknowledged and it is sent again: nothing is lost, and
what comes twice carries the same message id.
"""

from __future__ import annotations

import asyncio
import functools

import aiomqtt
import structlog
from aio_pika.abc import AbstractIncomingMessage
from paho.mqtt.subscribeoptions import SubscribeOptions

from docex import wire
from docex.adapters.mqtt.session import ack, connect, message_id, with_message_id
from docex.adapters.mqtt.settings import BridgeSettings
from docex.adapters.mqtt.topics import Topics
from docex.backoff import Backoff
from docex.ids import uuid7
from docex.unit.client import BROKER_UNAVAILABLE, UnitClient

log = structlog.get_logger("docex.mqtt")

# An AMQP message id is a short string: at most 255 bytes.
_MAX_MESSAGE_ID_BYTES = 255


class Bridge:
    def __init__(self, settings: BridgeSettings, client: UnitClient) -> None:
        self._settings = settings
        self._client = client
        self._topics = Topics(settings.mqtt.topic_prefix, settings.unit.unit)
        # The queue's consumer runs each message as its own task; taking turns keeps the
        # router's order on the way to the office system.
        self._to_office_turn = asyncio.Lock()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Forward until cancelled; after losing Mosquitto, reconnect and go on."""
        backoff = Backoff()
        while True:
            try:
                await self._session(backoff)
            except (aiomqtt.MqttError, *BROKER_UNAVAILABLE) as exc:
                log.warning("bridge_interrupted", unit=self._topics.unit, error=repr(exc))
            finally:
                self.connected.clear()
            await asyncio.sleep(backoff.next_delay())

    async def _session(self, backoff: Backoff) -> None:
        async with connect(self._settings) as mqtt:
            # Subscribing again on a kept session must not replay retained commands.
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
            await mqtt.subscribe(self._topics.commands, options=options)
            async with self._client.consuming(functools.partial(self._to_office, mqtt)):
                backoff.reset()
                self.connected.set()
                # Beat only while the office system's Mosquitto is reachable: with it away
                # the unit cannot take anything in, and the router should see it down (§46).
                self._client.start_heartbeats()
                log.info("bridge_connected", unit=self._topics.unit, client_id=mqtt.identifier)
                try:
                    async for message in mqtt.messages:
                        await self._to_router(mqtt, message)
                finally:
                    self._client.stop_heartbeats()

    async def _to_router(self, mqtt: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """A command from the office system: PUBACK only once RabbitMQ has confirmed it."""
        command_id = self._command_id(message)
        command_type = Topics.command_type(message.topic.value)
        retry = Backoff()
        while True:
            try:
                await self._client.publish_encoded(message.payload, command_id, command_type)
                break
            except BROKER_UNAVAILABLE as exc:
                # Mosquitto keeps the message unacknowledged meanwhile, and holds the rest.
                log.warning("router_unreachable", message_id=command_id, error=repr(exc))
                await asyncio.sleep(retry.next_delay())
        ack(mqtt, message)
        log.debug("to_router", type=command_type, message_id=command_id)

    def _command_id(self, message: aiomqtt.Message) -> str:
        given = message_id(message)
        if given is None:
            return uuid7()
        if 0 < len(given.encode()) <= _MAX_MESSAGE_ID_BYTES:
            return given
        log.warning("unusable_message_id", topic=message.topic.value, length=len(given))
        return uuid7()

    async def _to_office(self, mqtt: aiomqtt.Client, message: AbstractIncomingMessage) -> None:
        """A message from the router: acked to RabbitMQ only once Mosquitto has it (PUBACK)."""
        async with self._to_office_turn:
            try:
                # A batch is passed on as the messages it carries, each under its own topic
                # and message id, as if each had come alone (docex/wire.py).
                contents = wire.unpack(message.message_id or "", message.type or "", message.body)
            except wire.WireError as exc:
                log.error("unreadable_message", message_id=message.message_id, error=exc.message)
                await message.reject(requeue=False)
                return
            try:
                for item in contents:
                    topic = self._topics.to_office(item.type or "unknown")
                    properties = with_message_id(item.message_id)
                    await mqtt.publish(topic, item.body, qos=1, properties=properties)
                    log.debug("to_office", topic=topic, message_id=item.message_id)
            except aiomqtt.MqttError as exc:
                log.warning("office_unreachable", message_id=message.message_id, error=str(exc))
                settle = message.nack(requeue=True)
            else:
                settle = message.ack()
            try:
                await settle
            except BROKER_UNAVAILABLE as exc:
                # RabbitMQ hands the message out again: the office system may see it twice,
                # under the same message id.
                log.warning("amqp_ack_lost", message_id=message.message_id, error=repr(exc))
