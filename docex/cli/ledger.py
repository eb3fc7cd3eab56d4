"""`docex ledger init|backup|restore --config FILE`: the ledger file's life, by hand.

The router never creates a ledger by itself: an operator does, once, with `init`. `backup`
runs beside the router; `restore` refuses while a router holds the ledger.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from docex.config import ConfigError, load_config


def add_ledger_commands(subparsers: argparse._SubParsersAction) -> None:
    ledger = subparsers.add_parser("ledger", help="create, back up and restore the ledger")
    commands = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    init = commands.add_parser("init", help="create the empty ledger [router] ledger names")
    init.add_argument("--config", type=Path, required=True)
    init.set_defaults(func=_init)
    backup = commands.add_parser(
        "backup", help="copy the ledger, consistently, while the router runs"
    )
    backup.add_argument("--config", type=Path, required=True)
    backup.add_argument("out", type=Path, help="the backup file to write (must not exist)")
    backup.set_defaults(func=_backup)
    restore = commands.add_parser(
        "restore", help="put a backup in place of the ledger (the router must be stopped)"
    )
    restore.add_argument("--config", type=Path, required=True)
    restore.add_argument("backup", type=Path, help="a file `docex ledger backup` wrote")
    restore.set_defaults(func=_restore)


def _init(args: argparse.Namespace) -> int:
    from docex.ledger.admin import init_ledger

    def act(ledger: Path) -> str:
        init_ledger(ledger)
        return f"created an empty ledger at {ledger}"

    return _on_ledger(args.config, act)


def _backup(args: argparse.Namespace) -> int:
    from docex.ledger.admin import backup

    def act(ledger: Path) -> str:
        backup(ledger, args.out)
        return f"backed up {ledger} to {args.out}"

    return _on_ledger(args.config, act)


def _restore(args: argparse.Namespace) -> int:
    from docex.ledger.admin import restore

    def act(ledger: Path) -> str:
        kept = restore(ledger, args.backup)
        done = f"restored {ledger} from {args.backup}"
        return done + (f"; the ledger it replaced is kept as {kept}" if kept else "")

    return _on_ledger(args.config, act)


def _on_ledger(config_path: Path, act: Callable[[Path], str]) -> int:
    from docex.ledger.admin import LedgerAdminError
    from docex.ledger.errors import LedgerError
    from docex.ledger.lock import LedgerInUse

    try:
        ledger = Path(load_config(config_path).router.ledger)
        print(act(ledger))
    except (ConfigError, LedgerAdminError, LedgerInUse) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (LedgerError, OSError) as exc:
        print(f"error: the ledger of {config_path}: {exc}", file=sys.stderr)
        return 2
    return 0
