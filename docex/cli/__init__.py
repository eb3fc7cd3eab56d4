"""The `docex` command: one entry point for operators, seal officers and unit integrators.

The parser is built from light modules only; each command imports what it runs on (the
router, the broker clients, matplotlib, reportlab) when it runs, so `docex --help` and a typo
answer at once (tests/core/test_layout.py holds the line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from docex.cli.adapter import add_adapter_commands
from docex.cli.board import add_board_command
from docex.cli.router import add_router_commands
from docex.cli.seal import add_seal_commands
from docex.cli.unit import add_unit_commands


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="docex",
        description="Electronic document exchange for government units (电子公文与信息交换).",
    )
    root.add_argument("--version", action=_Version, nargs=0, help="print docex's version")
    root.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_router_commands(commands)
    add_unit_commands(commands)
    add_adapter_commands(commands)
    add_seal_commands(commands)
    add_board_command(commands)
    return root


class _Version(argparse.Action):
    """`--version`, looked up only when asked: importlib.metadata alone would take a tenth
    of a second from every command."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import version

        print(f"docex {version('docex')}")
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from docex import logs

    logs.configure(args.log_level)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
