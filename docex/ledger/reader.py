"""How operators' commands open the ledger: read-only, beside the running router, with a
one-line error for a bad config or an unreadable ledger instead of a traceback."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from docex.config import Config, ConfigError, load_config
from docex.i18n import _
from docex.ledger.open import open_ledger
from docex.ledger.port import LedgerReads

Action = Callable[[Config, LedgerReads], int]


def with_ledger(config_path: Path, action: Action) -> int:
    """Run `action` on the config and its ledger; its return is the exit status."""
    try:
        config = load_config(config_path)
        ledger = open_ledger(config.router.ledger, read_only=True)
    except (ConfigError, sqlite3.Error) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        return action(config, ledger)
    except sqlite3.Error as exc:
        problem = _("cannot read the ledger {ledger}: {error}").format(
            ledger=config.router.ledger, error=exc
        )
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
        return 2
    finally:
        ledger.close()
