"""`docex board --config ROUTER.toml [--listen HOST:PORT]`: the General Office's web board.

aiohttp and Jinja2 are imported when the board runs, so the parser stays light.
"""

from __future__ import annotations

import argparse
import sys

from docex.cli.options import add_config_option


def add_board_command(subparsers: argparse._SubParsersAction) -> None:
    board = subparsers.add_parser(
        "board",
        help="the General Office's web board (公文交换状态), read-only, behind a TLS proxy",
    )
    add_config_option(board, "the router's config")
    board.add_argument(
        "--listen",
        help="HOST:PORT, default [board] listen (127.0.0.1:8480): loopback, for the proxy",
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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    listen = args.listen or config.board.listen
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        print(f"error: --listen {listen!r} is not HOST:PORT", file=sys.stderr)
        return 2
    if host.strip("[]") not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"warning: listening on {listen}: the board serves only requests from loopback,"
            " where the TLS proxy runs; others get 403",
            file=sys.stderr,
        )
    if not config.board.subjects:
        print(
            f"error: {args.config}: [board] subjects names no certificate subject, so the board"
            ' would refuse everyone; map each subject DN to "office" or a unit id',
            file=sys.stderr,
        )
        return 2
    try:
        ledger = open_ledger(config.router.ledger, read_only=True)
    except LedgerError as exc:
        print(f"error: cannot read the ledger {config.router.ledger}: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(config, ledger, SystemClock(), host.strip("[]"), int(port)))
    except OSError as exc:
        print(f"error: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    return 0
