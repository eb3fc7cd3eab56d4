"""`docex adapter …`: the adapters a unit runs for good instead of calling `docex unit`.

The `adapter` group is made here, next to the hot folder, and takes the MQTT bridge in too.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import aio_pika

from adapters.hotfolder.service import serve
from adapters.hotfolder.settings import HotFolderSettings, SettingsError, load_hotfolder_settings
from adapters.mqtt.cli import add_mqtt_command
from seals.errors import SealError
from seals.kinds import SealKind
from seals.seal import Seal, open_seal


def add_adapter_commands(subparsers: argparse._SubParsersAction) -> None:
    adapter = subparsers.add_parser(
        "adapter", help="run a unit's adapter: an MQTT bridge or a hot folder"
    )
    commands = adapter.add_subparsers(dest="adapter_command", required=True, metavar="ADAPTER")
    hotfolder = commands.add_parser(
        "hotfolder",
        help="send what is dropped in outbox/; deliveries into inbox/, the rest into news/",
    )
    hotfolder.add_argument(
        "--config", type=Path, required=True, help="the hot folder's settings (TOML)"
    )
    hotfolder.set_defaults(func=_run)
    add_mqtt_command(commands)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_hotfolder_settings(args.config)
        seal = _signing_seal(settings)
        asyncio.run(_serve(settings, seal))
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


def _signing_seal(settings: HotFolderSettings) -> Seal:
    """Opened once at start: a wrong password or someone else's seal stops the adapter before
    it takes a single file."""
    carrier = Path(settings.unit.seal_carrier)
    seal = open_seal(carrier, settings.seal_password)
    if (seal.unit_id, seal.kind) != (settings.unit.unit, SealKind.SIGNING):
        raise SettingsError(
            f"{carrier} holds the {seal.kind} seal of {seal.unit_id!r},"
            f" not the signing seal of {settings.unit.unit!r}"
        )
    return seal


async def _serve(settings: HotFolderSettings, seal: Seal) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, seal, stop)
