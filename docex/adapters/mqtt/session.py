"""The bridge's MQTT connection: MQTT 5, a persistent session, and acknowledgements it sends
itself.

aiomqtt 2.x has no public manual-ack switch, but the paho-mqtt client it wraps does
(`manual_ack_set`, `ack`). Without it paho acknowledges a QoS 1 message the moment it is read,
before the router has it, and a crash then would lose it. aiomqtt is pinned below 3, so the
attribute it keeps paho in does not move under us.
"""

from __future__ import annotations

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from docex import wire
from docex.adapters.mqtt.settings import BridgeSettings

MESSAGE_ID = "message_id"


def connect(settings: BridgeSettings) -> aiomqtt.Client:
    """A new client for each connection attempt: a reused one would hand out messages read on
    the lost connection, whose acks the new connection cannot give."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.mqtt.session_expiry_s
    client = aiomqtt.Client(
        settings.mqtt.host,
        settings.mqtt.port,
        username=settings.mqtt.username or None,
        password=settings.mqtt_password,
        identifier=settings.client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        keepalive=settings.mqtt.keepalive_s,
        properties=properties,
    )
    client._client.manual_ack_set(True)
    return client


def ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """PUBACK now that the message is safe elsewhere; a no-op for QoS 0."""
    client._client.ack(message.mid, message.qos)


def message_id(message: aiomqtt.Message) -> str | None:
    """The sender's own id for the message (MQTT 5 user property), if it set one."""
    pairs = getattr(message.properties, "UserProperty", None) or []
    return next((value for key, value in pairs if key == MESSAGE_ID), None)


def with_message_id(message_id: str) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = (MESSAGE_ID, message_id)
    properties.ContentType = wire.CONTENT_TYPE
    return properties
