"""`docex router …`, `docex units …`, `docex config …`: the operator's commands.

The daemon, the broker client and provisioning are imported when their command runs, not
when the parser is built, so `docex --help` and every other command start quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import date
from pathlib import Path

from docex.cli.ledger import add_ledger_commands
from docex.cli.notices import add_notice_commands
from docex.cli.options import add_config_option
from docex.cli.report import add_report_commands
from docex.cli.router_status import add_status_command
from docex.config import ConfigError, load_config
from docex.i18n import _


def add_router_commands(subparsers: argparse._SubParsersAction) -> None:
    router = subparsers.add_parser("router", help=_("the exchange daemon"))
    router_commands = router.add_subparsers(dest="router_command", required=True, metavar="COMMAND")
    run_parser = router_commands.add_parser("run", help=_("run the router until SIGTERM"))
    add_config_option(run_parser, _("the router's config"))
    run_parser.add_argument(
        "--init-ledger",
        action="store_true",
        help=_(
            "first start only: create the ledger if it is missing (else a missing ledger"
            " stops the router; see `docex ledger init`)"
        ),
    )
    run_parser.set_defaults(func=_run)
    add_status_command(router_commands)

    units = subparsers.add_parser("units", help=_("member units and their broker accounts"))
    unit_commands = units.add_subparsers(dest="units_command", required=True, metavar="COMMAND")
    provision_parser = unit_commands.add_parser(
        "provision", help=_("create each unit's RabbitMQ user with only its own permissions")
    )
    add_config_option(provision_parser, _("the router's config"))
    provision_parser.add_argument(
        "--password-dir",
        type=Path,
        required=True,
        help=_("where each unit's broker password is kept (made if missing, mode 0600)"),
    )
    provision_parser.add_argument(
        "--node",
        help=_(
            "the RabbitMQ node to administer (rabbitmqctl --node); default: [router]"
            " broker_node, else rabbitmqctl's default, the local node"
        ),
    )
    provision_parser.add_argument(
        "--rotate",
        action="store_true",
        help=_("give units that already exist new passwords (their adapters need the new files)"),
    )
    provision_parser.set_defaults(func=_provision)

    config = subparsers.add_parser("config", help=_("check a configuration file"))
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = config_commands.add_parser(
        "check",
        help=_("validate a router, unit, hot folder or MQTT bridge config without running it"),
    )
    check.add_argument("file", type=Path)
    check.add_argument(
        "--kind",
        choices=["router", "unit", "hotfolder", "mqtt"],
        help=_("what the file configures; default: told by its keys"),
    )
    check.set_defaults(func=_check)

    add_ledger_commands(subparsers)
    add_notice_commands(subparsers)
    add_report_commands(subparsers)


def _run(args: argparse.Namespace) -> int:
    import aio_pika
    import uvloop
    import yarl

    from docex.cli import rejections
    from docex.error_text import connection_problem, file_problem, login_refused
    from docex.ledger import lock
    from docex.ledger.errors import LedgerError
    from docex.ledger.location import is_postgresql
    from docex.router.preflight import startup_problems
    from docex.router.service import run
    from docex.seals.errors import SealError

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    problems = startup_problems(config, args.config, create_ledger=args.init_ledger)
    for problem in problems:
        _error(_("cannot start the router: {problem}").format(problem=problem))
    if problems:
        return 2
    # One router per SQLite file; routers sharing a PostgreSQL ledger divide the work among
    # themselves (docex/router/cluster.py).
    if is_postgresql(config.router.ledger):
        held: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    else:
        held = lock.held(Path(config.router.ledger))
    broker = yarl.URL(config.router.amqp_url)
    address = f"{broker.host}:{broker.port}"
    try:
        with held:
            # uvloop: 4-17 % less CPU per document than asyncio's own loop, measured
            # (bench/README.md); the router is one event loop, CPU-bound under load.
            uvloop.run(run(config, args.config, create_ledger=args.init_ledger))
    except aio_pika.exceptions.ProbableAuthenticationError:
        return _error(
            login_refused("RabbitMQ", address, broker.user, f"[router] amqp_url ({args.config})")
        )
    except SealError as exc:
        problem = f"{exc.code}: {rejections.detail(exc.message)}"
        return _error(_("cannot start the router: {problem}").format(problem=problem))
    except OSError as exc:
        problem = (
            file_problem(exc)
            if exc.filename
            else connection_problem(exc, "RabbitMQ ([router] amqp_url)", address)
        )
        return _error(_("cannot start the router: {problem}").format(problem=problem))
    except lock.LedgerInUse as exc:
        return _error(_("cannot start the router: {problem}").format(problem=exc))
    except LedgerError as exc:
        if is_postgresql(config.router.ledger):
            return _error(_("cannot start the router: {problem}").format(problem=exc))
        # At start the ledger's schema is written, and that does not wait for a lock.
        return _error(
            _(
                "cannot start the router: the ledger {ledger} cannot be written ({error});"
                " is an sqlite3 shell or another program holding it? Close it and start again"
            ).format(ledger=config.router.ledger, error=exc)
        )
    return 0


def _error(problem: str) -> int:
    """One line on stderr, in the operator's language; exit status 2."""
    print(_("error: {problem}").format(problem=problem), file=sys.stderr)
    return 2


def _provision(args: argparse.Namespace) -> int:
    from docex.router.provision import ProvisionError, provision

    try:
        config = load_config(args.config)
        node = args.node if args.node is not None else config.router.broker_node
        print(_("broker node: {node}").format(node=node or _("rabbitmqctl default (this machine)")))
        outcomes = provision(config, args.password_dir, node=node, rotate=args.rotate)
    except (ConfigError, ProvisionError) as exc:
        return _error(str(exc))
    for outcome in outcomes:
        print(outcome.line())
    return 1 if any(outcome.problem for outcome in outcomes) else 0


def _check(args: argparse.Namespace) -> int:
    from docex.router.preflight import missing_seal_password, startup_problems
    from docex.settings_check import kind_of, read_toml, settings_problems

    kind = args.kind
    if kind is None:
        try:
            kind = kind_of(read_toml(args.file)[1])
        except (OSError, ValueError):
            kind = "router"  # load_config says what is wrong with it
        if kind is None:
            problem = _("{file}: cannot tell what it configures; give --kind").format(
                file=args.file
            )
            print(_("error: {problem}").format(problem=problem), file=sys.stderr)
            return 2
    if kind != "router":
        problems = settings_problems(args.file, kind)
        for problem in problems:
            print(_("error: {problem}").format(problem=problem), file=sys.stderr)
        if problems:
            return 2
        print(_("{file}: ok, {kind} settings").format(file=args.file, kind=kind))
        return 0
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    for warning in config.calendar_warnings(date.today()):
        print(_("warning: {problem}").format(problem=warning))
    # By hand, outside the service, systemd's credentials are not there to be seen.
    by_hand = "CREDENTIALS_DIRECTORY" not in os.environ
    missing_password = missing_seal_password(config)
    if by_hand and missing_password:
        print(_("warning: {problem}").format(problem=missing_password))
    problems = startup_problems(config, args.file, starting=not by_hand)
    for problem in problems:
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
    if problems:
        return 2
    print(_("{file}: ok, {count} units").format(file=args.file, count=len(config.units)))
    return 0
