"""The `docex` command: one entry point for operators, seal officers and unit integrators.

The parser is built from light modules only; each command imports what it runs on (the
router, the broker clients, matplotlib, reportlab) when it runs, so `docex --help` and a typo
answer at once (tests/core/test_layout.py holds the line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from docex.cli.adapter import add_adapter_commands
from docex.cli.audit import add_audit_commands
from docex.cli.board import add_board_command
from docex.cli.options import CONFIG_ENV, resolve_config
from docex.cli.router import add_router_commands
from docex.cli.seal import add_seal_commands
from docex.cli.unit import add_unit_commands
from docex.cli.users import add_users_commands
from docex.i18n import _, translate_argparse


def parser() -> argparse.ArgumentParser:
    translate_argparse()
    root = _Parser(
        prog="docex",
        description=_("Electronic document exchange for government units (电子公文与信息交换)."),
    )
    root.add_argument("--version", action=_Version, nargs=0, help=_("print docex's version"))
    root.add_argument(
        "--print-completion",
        action=_Completion,
        choices=["bash", "zsh", "tcsh"],
        help=_("print a shell completion script (bash: > /etc/bash_completion.d/docex)"),
    )
    root.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    root.add_argument(
        "--debug", action="store_true", help=_("show the whole traceback when something fails")
    )
    root.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help=_("the settings file of the command that follows (else ${env})").format(
            env=CONFIG_ENV
        ),
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_router_commands(commands)
    add_unit_commands(commands)
    add_adapter_commands(commands)
    add_seal_commands(commands)
    add_audit_commands(commands)
    add_users_commands(commands)
    add_board_command(commands)
    return root


class _Parser(argparse.ArgumentParser):
    """A mistake on the command line is one line that says where to look, not the usage."""

    def error(self, message: str) -> NoReturn:
        line = _("{prog}: error: {message} (see `{prog} --help`)").format(
            prog=self.prog, message=message
        )
        self.exit(2, f"{line}\n")


class _Completion(argparse.Action):
    """Completion generated from this parser by shtab, imported only when asked."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        import shtab

        print(shtab.complete(parser, shell=str(values)))
        parser.exit()


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
    """Every failure a command did not foresee still ends as one line, unless --debug."""
    root = parser()
    args = root.parse_args(argv)
    resolve_config(root, args)
    from docex import logs

    logs.configure(args.log_level)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say, and no one to say it to.
        sys.stderr.close()
        return 141
    except Exception as exc:
        if args.debug:
            raise
        from docex.cli.errors import describe_exception
        from docex.i18n import _

        print(_("error: {problem}").format(problem=describe_exception(exc)), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
