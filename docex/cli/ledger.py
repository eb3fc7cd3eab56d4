"""`docex ledger init|backup|restore --config FILE`: the ledger file's life, by hand;
`docex ledger migrate`: an embedded ledger into PostgreSQL.

The router never creates a SQLite ledger by itself: an operator does, once, with `init`.
`backup` runs beside the router; `restore` refuses while a router holds the ledger. A
PostgreSQL ledger is backed up with PostgreSQL's own tools (pg_dump, base backups).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from docex.cli.options import add_config_option
from docex.config import ConfigError, load_config
from docex.error_text import file_problem
from docex.i18n import _


def add_ledger_commands(subparsers: argparse._SubParsersAction) -> None:
    ledger = subparsers.add_parser(
        "ledger", help=_("the exchange's ledger (账本): create, back up, restore, migrate")
    )
    commands = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    init = commands.add_parser("init", help=_("create the empty ledger [router] ledger names"))
    add_config_option(init, _("the router's config"))
    init.set_defaults(func=_init)
    backup = commands.add_parser(
        "backup", help=_("copy the ledger, consistently, while the router runs")
    )
    add_config_option(backup, _("the router's config"))
    backup.add_argument("out", type=Path, help=_("the backup file to write (must not exist)"))
    backup.set_defaults(func=_backup)
    restore = commands.add_parser(
        "restore", help=_("put a backup in place of the ledger (the router must be stopped)")
    )
    add_config_option(restore, _("the router's config"))
    restore.add_argument("backup", type=Path, help=_("a file `docex ledger backup` wrote"))
    restore.set_defaults(func=_restore)
    migrate = commands.add_parser(
        "migrate",
        help=_("copy a SQLite ledger into an empty PostgreSQL database (router stopped)"),
        description=_(
            "Copies every document, delivery, receipt, quota, command and notice of"
            " a SQLite ledger into an empty PostgreSQL database, then compares every table with"
            " the file. Stop the router first; point [router] ledger at the new URL afterwards."
        ),
    )
    migrate.add_argument(
        "--from", dest="source", required=True, help=_("the SQLite ledger: a path or sqlite:///…")
    )
    migrate.add_argument(
        "--to", dest="target", required=True, help=_("postgresql://user@host/database")
    )
    migrate.set_defaults(func=_migrate)
    prune = commands.add_parser(
        "prune",
        help=_("delete what [retention] says is past keeping (the router's leader does it daily)"),
    )
    add_config_option(prune, _("the router's config"))
    prune.set_defaults(func=_prune)


def _prune(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from docex.ledger.errors import LedgerError
    from docex.ledger.open import LedgerMissing, open_ledger
    from docex.ledger.retention import prune

    try:
        config = load_config(args.config)
        ledger = open_ledger(config.router.ledger, create=False)
    except OSError as exc:
        print(_("error: {problem}").format(problem=file_problem(exc)), file=sys.stderr)
        return 2
    except (ConfigError, LedgerError, LedgerMissing) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        done = prune(
            ledger,
            config.retention,
            datetime.now(UTC),
            lambda line: print(line, file=sys.stderr),
        )
    except LedgerError as exc:
        from docex.cli.errors import ledger_failed

        return ledger_failed(args.config, exc)
    finally:
        ledger.close()
    print(done.line())
    return 0


def _init(args: argparse.Namespace) -> int:
    from docex.ledger.admin import init_ledger

    def act(ledger: Path) -> str:
        init_ledger(ledger)
        return _("created an empty ledger at {path}").format(path=ledger)

    return _on_ledger(args.config, act)


def _backup(args: argparse.Namespace) -> int:
    from docex.ledger.admin import backup

    def act(ledger: Path) -> str:
        backup(ledger, args.out)
        return _("backed up {path} to {out}").format(path=ledger, out=args.out)

    return _on_ledger(args.config, act)


def _restore(args: argparse.Namespace) -> int:
    from docex.ledger.admin import restore

    def act(ledger: Path) -> str:
        kept = restore(ledger, args.backup)
        if kept:
            return _(
                "restored {path} from {backup}; the ledger it replaced is kept as {kept}"
            ).format(path=ledger, backup=args.backup, kept=kept)
        return _("restored {path} from {backup}").format(path=ledger, backup=args.backup)

    return _on_ledger(args.config, act)


def _on_ledger(config_path: Path, act: Callable[[Path], str]) -> int:
    from docex.ledger.admin import LedgerAdminError
    from docex.ledger.errors import LedgerError
    from docex.ledger.location import is_postgresql
    from docex.ledger.lock import LedgerInUse

    try:
        location = load_config(config_path).router.ledger
        if is_postgresql(location):
            problem = _(
                "{file}: the ledger is a PostgreSQL database; create, back up and restore it"
                " with PostgreSQL's own tools (createdb, pg_dump, pg_restore)"
            ).format(file=config_path)
            print(_("error: {problem}").format(problem=problem), file=sys.stderr)
            return 2
        print(act(Path(location)))
    except (ConfigError, LedgerAdminError, LedgerInUse) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    except (LedgerError, OSError) as exc:
        from docex.cli.errors import ledger_failed

        return ledger_failed(config_path, exc)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from docex.ledger.location import LedgerLocationError, is_postgresql, sqlite_file
    from docex.ledger.migrate import MigrationError, migrate

    if not is_postgresql(args.target):
        problem = _("--to {url}: give a postgresql:// URL").format(url=args.target)
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
        return 2
    try:
        source = sqlite_file(args.source, Path.cwd())
    except LedgerLocationError as exc:
        print(_("error: {problem}").format(problem=f"--from {exc}"), file=sys.stderr)
        return 2
    try:
        copied = migrate(source, args.target, lambda line: print(line, file=sys.stderr))
    except MigrationError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    print(
        _(
            "migrated {documents} documents, {deliveries} deliveries and {commands} commands;"
            " every table matches the file. Now set [router] ledger to the PostgreSQL URL."
        ).format(**copied)
    )
    return 0
