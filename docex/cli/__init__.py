"""The `docex` command: one entry point for operators, seal officers and unit integrators."""

from __future__ import annotations

import argparse
import sys

from docex import logs
from docex.cli.adapter import add_adapter_commands
from docex.cli.router import add_router_commands
from docex.cli.seal import add_seal_commands
from docex.cli.unit import add_unit_commands


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="docex",
        description="Electronic document exchange for government units (电子公文与信息交换).",
    )
    root.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_router_commands(commands)
    add_unit_commands(commands)
    add_adapter_commands(commands)
    add_seal_commands(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(args.log_level)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
