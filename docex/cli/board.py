"""`docex board --config ROUTER.toml [--listen HOST:PORT]`: the General Office's web board.

aiohttp and Jinja2 are imported when the board runs, so the parser stays light.
"""

from __future__ import annotations

import argparse
import sys

from docex.cli.options import add_config_option
from docex.i18n import _


def add_board_command(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser(
        "board",
        help=_("the General Office's web board (公文交换状态), read-only, behind a TLS proxy"),
    )
    add_config_option(board, _("the router's config"))
    board.add_argument(
        "--listen",
        help=_("HOST:PORT, default [board] listen (127.0.0.1:8480): loopback, for the proxy"),
    )
    board.set_defaults(func=_board)


def _board(args: argparse.Namespace) -> int:
    import asyncio

    from docex.board.app import run
    from docex.clock import SystemClock
    from docex.config import ConfigError, load_config
    from docex.ledger.errors import LedgerError
    from docex.ledger.open import open_ledger

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _error(str(exc))
        return 2
    listen = args.listen or config.board.listen
    host, _colon, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        _error(_("--listen {listen!r} is not HOST:PORT").format(listen=listen))
        return 2
    if host.strip("[]") not in ("127.0.0.1", "::1", "localhost"):
        print(
            _(
                "warning: listening on {listen}: the board serves only requests from loopback,"
                " where the TLS proxy runs; others get 403"
            ).format(listen=listen),
            file=sys.stderr,
        )
    if not config.board.subjects:
        _error(
            _(
                "{file}: [board] subjects names no certificate subject, so the board would"
                ' refuse everyone; map each subject DN to "office" or a unit id'
            ).format(file=args.config)
        )
        return 2
    try:
        ledger = open_ledger(config.router.ledger, read_only=True)
    except LedgerError as exc:
        _error(
            _("cannot read the ledger {ledger}: {error}").format(
                ledger=config.router.ledger, error=exc
            )
        )
        return 2
    try:
        asyncio.run(run(config, ledger, SystemClock(), host.strip("[]"), int(port)))
    except OSError as exc:
        _error(_("cannot listen on {listen}: {reason}").format(listen=listen, reason=exc.strerror))
        return 2
    finally:
        ledger.close()
    return 0


def _error(problem: str) -> None:
    print(_("error: {problem}").format(problem=problem), file=sys.stderr)
