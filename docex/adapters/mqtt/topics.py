"""The unit's MQTT topics: `<prefix>/<unit>/out/<type>` in from the office system,
`<prefix>/<unit>/in/<type>` out to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str
    unit: str

    @property
    def commands(self) -> str:
        """The filter the bridge subscribes to: every command type, one level deep."""
        return f"{self.prefix}/{self.unit}/out/+"

    def to_office(self, message_type: str) -> str:
        return f"{self.prefix}/{self.unit}/in/{message_type}"

    @staticmethod
    def command_type(topic: str) -> str:
        """The `<type>` level of a command's topic, for the AMQP `type` property. The router
        reads the type from the body itself; this one only labels the message."""
        return topic.rsplit("/", 1)[-1]
