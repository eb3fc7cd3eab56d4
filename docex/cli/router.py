"""`docex router …`, `docex units …`, `docex config …`: the operator's commands.

The daemon, the broker client and provisioning are imported when their command runs, not
when the parser is built, so `docex --help` and every other command start quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from docex.cli.notices import add_notice_commands
from docex.cli.options import add_config_option
from docex.cli.report import add_report_commands
from docex.cli.router_status import add_status_command
from docex.config import ConfigError, load_config
from docex.i18n import _


def add_router_commands(subparsers: argparse._SubParsersAction) -> None:
    router = subparsers.add_parser("router", help="the exchange daemon")
    router_commands = router.add_subparsers(dest="router_command", required=True, metavar="COMMAND")
    run_parser = router_commands.add_parser("run", help="run the router until SIGTERM")
    add_config_option(run_parser, _("the router's config"))
    run_parser.set_defaults(func=_run)
    add_status_command(router_commands)

    units = subparsers.add_parser("units", help="member units and their broker accounts")
    unit_commands = units.add_subparsers(dest="units_command", required=True, metavar="COMMAND")
    provision_parser = unit_commands.add_parser(
        "provision", help="create each unit's RabbitMQ user with only its own permissions"
    )
    add_config_option(provision_parser, _("the router's config"))
    provision_parser.add_argument(
        "--password-dir",
        type=Path,
        required=True,
        help="where each unit's broker password is kept (made if missing, mode 0600)",
    )
    provision_parser.set_defaults(func=_provision)

    config = subparsers.add_parser("config", help="check a configuration file")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = config_commands.add_parser("check", help="validate a router config without running")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check)

    add_notice_commands(subparsers)
    add_report_commands(subparsers)


def _run(args: argparse.Namespace) -> int:
    import aio_pika

    from docex.ledger import lock
    from docex.ledger.errors import LedgerError
    from docex.router.service import run
    from docex.seals.errors import SealError

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with lock.held(Path(config.router.ledger)):
            asyncio.run(run(config, args.config))
    except aio_pika.exceptions.ProbableAuthenticationError as exc:
        print(f"error: the broker refused the router's login: {exc}", file=sys.stderr)
        return 2
    except (SealError, OSError, lock.LedgerInUse) as exc:
        print(f"error: cannot start the router: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        # At start the ledger's schema is written, and that does not wait for a lock.
        print(
            f"error: cannot start the router: the ledger {config.router.ledger} cannot be"
            f" written ({exc}); is an sqlite3 shell or another program holding it? Close it"
            " and start again",
            file=sys.stderr,
        )
        return 2
    return 0


def _provision(args: argparse.Namespace) -> int:
    from docex.router.provision import ProvisionError, provision

    try:
        for line in provision(load_config(args.config), args.password_dir):
            print(line)
    except (ConfigError, ProvisionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in config.calendar_warnings(date.today()):
        print(f"warning: {warning}")
    unreadable = config.unreadable_files()
    for problem in unreadable:
        print(f"error: {problem}", file=sys.stderr)
    if unreadable:
        return 2
    print(f"{args.file}: ok, {len(config.units)} units")
    return 0
