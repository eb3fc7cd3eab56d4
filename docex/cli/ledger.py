"""`docex ledger …`: the operator's commands on the ledger itself."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_ledger_commands(subparsers: argparse._SubParsersAction) -> None:
    ledger = subparsers.add_parser("ledger", help="the exchange's ledger (账本)")
    commands = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    migrate = commands.add_parser(
        "migrate",
        help="copy a SQLite ledger into an empty PostgreSQL database (router stopped)",
        description="Copies every document, delivery, receipt, quota, command and notice of"
        " a SQLite ledger into an empty PostgreSQL database, then compares every table with"
        " the file. Stop the router first; point [router] ledger at the new URL afterwards.",
    )
    migrate.add_argument(
        "--from", dest="source", required=True, help="the SQLite ledger: a path or sqlite:///…"
    )
    migrate.add_argument(
        "--to", dest="target", required=True, help="postgresql://user@host/database"
    )
    migrate.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from docex.ledger.location import LedgerLocationError, is_postgresql, sqlite_file
    from docex.ledger.migrate import MigrationError, migrate

    if not is_postgresql(args.target):
        print(f"error: --to {args.target}: give a postgresql:// URL", file=sys.stderr)
        return 2
    try:
        source = sqlite_file(args.source, Path.cwd())
    except LedgerLocationError as exc:
        print(f"error: --from {exc}", file=sys.stderr)
        return 2
    try:
        copied = migrate(source, args.target, lambda line: print(line, file=sys.stderr))
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"migrated {copied['documents']} documents, {copied['deliveries']} deliveries and"
        f" {copied['commands']} commands; every table matches the file."
        " Now set [router] ledger to the PostgreSQL URL."
    )
    return 0
