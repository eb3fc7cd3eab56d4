"""`docex adapter mqtt --config FILE`: run one unit's MQTT bridge until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import aio_pika

from adapters.amqp.client import UnitClient
from adapters.mqtt.bridge import Bridge
from adapters.mqtt.settings import BridgeSettings, SettingsError, load_bridge_settings
from seals.errors import SealError


def add_mqtt_command(commands: argparse._SubParsersAction) -> None:
    mqtt = commands.add_parser(
        "mqtt", help="bridge a unit's MQTT topics (docex/<unit>/out|in/<type>) to the exchange"
    )
    mqtt.add_argument("--config", type=Path, required=True, help="the bridge's settings (TOML)")
    mqtt.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_serve(load_bridge_settings(args.config)))
    except (SettingsError, SealError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except aio_pika.exceptions.AMQPError as exc:
        print(f"error: cannot reach the exchange: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve(settings: BridgeSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with UnitClient(settings.unit) as client:
        bridge = asyncio.create_task(Bridge(settings, client).run(), name="bridge")
        await stop.wait()
        # Whatever is in flight stays unacknowledged on its side and comes again next start.
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge
