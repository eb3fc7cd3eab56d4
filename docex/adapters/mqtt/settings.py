"""The bridge's settings: the unit's own settings file (who it is on the exchange) plus how to
reach the unit's Mosquitto.

The unit's file is the one `docex unit --config` reads, named rather than copied, so a unit has
one place for its broker account. The bridge never opens its seal carrier: the office system
seals what it sends.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from docex.settings_file import read_secret, read_settings
from docex.unit.settings import UnitSettings, load_unit_settings

MQTT_PASSWORD_ENV = "DOCEX_MQTT_PASSWORD"


class MqttSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    # Read once at start; else $DOCEX_MQTT_PASSWORD; a password never sits in this file.
    password_file: str = ""
    topic_prefix: str = "docex"
    # Fixed, so Mosquitto keeps the bridge's session (and what is queued for it) across
    # restarts. Default: docex-bridge-<unit>.
    client_id: str = ""
    # How long Mosquitto keeps the session while the bridge is away (MQTT 5 session expiry).
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30


class SettingsFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    unit_settings: str
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)


class BridgeSettings(msgspec.Struct, kw_only=True):
    unit: UnitSettings
    mqtt: MqttSettings
    mqtt_password: str | None

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"docex-bridge-{self.unit.unit}"


def load_bridge_settings(path: Path) -> BridgeSettings:
    """Relative paths in the file are taken relative to the file itself."""
    data = read_settings(path, SettingsFile)
    base = path.parent.resolve()
    password_file = base / data.mqtt.password_file if data.mqtt.password_file else None
    return BridgeSettings(
        unit=load_unit_settings(base / data.unit_settings),
        mqtt=data.mqtt,
        mqtt_password=read_secret(password_file, MQTT_PASSWORD_ENV),
    )
