"""The options every command shares, in one place: `--config FILE` (or $DOCEX_CONFIG) goes
before or after the command's name alike, so `docex --config F unit send …`,
`docex unit --config F send …` and `docex unit send … --config F` all mean the same."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from docex.i18n import _

CONFIG_ENV = "DOCEX_CONFIG"


def add_config_option(parser: argparse.ArgumentParser, what: str) -> None:
    """`--config` on this command; the default is suppressed so that a value given earlier on
    the line (on `docex` or a command group) is not overwritten by a later parser's None."""
    parser.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help=_("{what} (TOML; else ${env})").format(what=what, env=CONFIG_ENV),
    )
    parser.set_defaults(needs_config=what)


def resolve_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in args.config from $DOCEX_CONFIG, or stop with one line saying what is missing."""
    what = getattr(args, "needs_config", None)
    if what is None or getattr(args, "config", None) is not None:
        return
    if os.environ.get(CONFIG_ENV):
        args.config = Path(os.environ[CONFIG_ENV])
        return
    parser.error(_("name {what}: --config FILE, or ${env}").format(what=what, env=CONFIG_ENV))


def add_config_option_everywhere(parser: argparse.ArgumentParser, what: str) -> None:
    """`--config` on a command group and on every command under it."""
    add_config_option(parser, what)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_config_option_everywhere(child, what)
