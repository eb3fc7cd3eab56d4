"""How operators' commands open the ledger: read-only, beside the running router, with a
one-line error for a bad config or an unreadable ledger instead of a traceback."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from docex.config import Config, ConfigError, load_config
from docex.ledger.open import open_ledger
from docex.ledger.port import LedgerReads

Action = Callable[[Config, LedgerReads], int]


def with_ledger(config_path: Path, action: Action) -> int:
    """Run `action` on the config and its ledger; its return is the exit status."""
    try:
        config = load_config(config_path)
        ledger = open_ledger(config.router.ledger, read_only=True)
    except (ConfigError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return action(config, ledger)
    except sqlite3.Error as exc:
        print(f"error: cannot read the ledger {config.router.ledger}: {exc}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
