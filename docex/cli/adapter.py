"""`docex adapter …`: the adapters a unit runs for good instead of calling `docex unit`.

The `adapter` group is made here, next to the hot folder, and takes the MQTT bridge in too.
The adapters, their broker client and the seals are imported when one runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from docex.cli.adapter_mqtt import add_mqtt_command
from docex.cli.options import add_config_option
from docex.i18n import _
from docex.seals.kinds import SealKind
from docex.settings_file import SettingsError

if TYPE_CHECKING:
    from docex.adapters.hotfolder.settings import HotFolderSettings
    from docex.seals.seal import Seal


def add_adapter_commands(subparsers: argparse._SubParsersAction) -> None:
    adapter = subparsers.add_parser(
        "adapter", help=_("run a unit's adapter: an MQTT bridge or a hot folder")
    )
    commands = adapter.add_subparsers(dest="adapter_command", required=True, metavar="ADAPTER")
    hotfolder = commands.add_parser(
        "hotfolder",
        help=_("send what is dropped in outbox/; deliveries into inbox/, the rest into news/"),
    )
    add_config_option(hotfolder, _("the hot folder's settings"))
    hotfolder.set_defaults(func=_run)
    add_mqtt_command(commands)


def _run(args: argparse.Namespace) -> int:
    from docex.adapters.running import run_adapter

    return run_adapter(lambda: _serve(args.config))


def _signing_seal(settings: HotFolderSettings) -> Seal:
    """Opened once at start: a wrong password or someone else's seal stops the adapter before
    it takes a single file."""
    from docex.seals.seal import open_seal

    carrier = Path(settings.unit.seal_carrier)
    seal = open_seal(carrier, settings.seal_password)
    if (seal.unit_id, seal.kind) != (settings.unit.unit, SealKind.SIGNING):
        raise SettingsError(
            f"{carrier} holds the {seal.kind} seal of {seal.unit_id!r},"
            f" not the signing seal of {settings.unit.unit!r}"
        )
    return seal


def _verification_seal(settings: HotFolderSettings) -> Seal | None:
    """Opened at start too, when the unit has one: print control files need it (§35)."""
    from docex.seals.seal import open_seal

    if not settings.unit.verification_carrier:
        return None
    carrier = Path(settings.unit.verification_carrier)
    seal = open_seal(carrier, settings.verification_password or settings.seal_password)
    if (seal.unit_id, seal.kind) != (settings.unit.unit, SealKind.VERIFICATION):
        raise SettingsError(
            f"{carrier} holds the {seal.kind} seal of {seal.unit_id!r},"
            f" not the verification seal of {settings.unit.unit!r}"
        )
    return seal


async def _serve(config: Path) -> None:
    from docex.adapters.hotfolder.service import serve
    from docex.adapters.hotfolder.settings import load_hotfolder_settings
    from docex.adapters.running import stop_on_signals

    settings = load_hotfolder_settings(config)
    await serve(settings, _signing_seal(settings), stop_on_signals(), _verification_seal(settings))
