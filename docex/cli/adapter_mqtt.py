"""`docex adapter mqtt --config FILE`: run one unit's MQTT bridge until SIGTERM.

The bridge, aiomqtt and the broker client are imported when it runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import TYPE_CHECKING

from docex.cli.options import add_config_option
from docex.i18n import _

if TYPE_CHECKING:
    from docex.adapters.mqtt.settings import BridgeSettings


def add_mqtt_command(commands: argparse._SubParsersAction) -> None:
    mqtt = commands.add_parser(
        "mqtt", help=_("bridge a unit's MQTT topics (docex/<unit>/out|in/<type>) to the exchange")
    )
    add_config_option(mqtt, _("the bridge's settings"))
    mqtt.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from docex.adapters.mqtt.settings import load_bridge_settings
    from docex.adapters.running import run_adapter

    return run_adapter(lambda: _serve(load_bridge_settings(args.config)))


async def _serve(settings: BridgeSettings) -> None:
    from docex.adapters.mqtt.bridge import Bridge
    from docex.adapters.running import stop_on_signals
    from docex.unit.client import UnitClient

    stop = stop_on_signals()
    async with UnitClient(settings.unit) as client:
        bridge = asyncio.create_task(Bridge(settings, client).run(), name="bridge")
        await stop.wait()
        # Whatever is in flight stays unacknowledged on its side and comes again next start.
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge
