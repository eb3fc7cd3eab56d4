"""The operator's hands on the ledger file: create it once, back it up while the router runs,
put a backup back while no router does.

A router never makes a ledger by itself (open_ledger(create=False)): a ledger that is missing
because a disk was not mounted or a path was mistyped would otherwise be replaced by an empty
one, and the router would answer redelivered commands as new. So a new ledger is made on
purpose, by `docex ledger init` (or `docex router run --init-ledger`).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from docex.i18n import _
from docex.ledger import lock
from docex.ledger.open import open_ledger

# A table every ledger has: a file without it is not a ledger.
_LEDGER_TABLE = "commands"


class LedgerAdminError(Exception):
    pass


def init_ledger(path: Path) -> None:
    """Make a new, empty ledger; refuses to touch one that exists."""
    if path.exists():
        raise LedgerAdminError(
            _("a ledger already exists at {path}; nothing was changed").format(path=path)
        )
    open_ledger(path, create=True).close()
    _owned_like_its_directory(path)


def backup(path: Path, out: Path) -> None:
    """A consistent copy of the ledger as of one moment, taken beside the running router
    (SQLite's online backup reads one snapshot; the router's commits go on meanwhile)."""
    if out.exists():
        raise LedgerAdminError(
            _("{out} exists; give a new file name for the backup").format(out=out)
        )
    if not path.is_file():
        raise LedgerAdminError(_("no ledger at {path}").format(path=path))
    _copy(path, out)


def restore(path: Path, backup_file: Path) -> Path | None:
    """Put `backup_file` in place of the ledger, only while no router holds it. The ledger
    it replaces is kept beside it, renamed; its name is returned (None if there was none)."""
    _check_is_ledger(backup_file)
    with lock.held(path):
        kept = None
        if path.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = path.with_name(f"{path.name}.before-restore-{stamp}")
            # The write-ahead log belongs to its database: they move together.
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{path}{suffix}")
                if old.exists():
                    old.replace(Path(f"{kept}{suffix}"))
        _copy(backup_file, path)
        _owned_like_its_directory(path, Path(f"{path}.lock"))
        return kept


def _owned_like_its_directory(*files: Path) -> None:
    """Run as root (`sudo docex ledger …`), files made for the router would be root's, and
    the router, running as its own user, could not write them: they get the owner of the
    ledger's directory (/var/lib/docex, the router's)."""
    if os.geteuid() != 0:
        return
    directory = files[0].parent.stat()
    for file in files:
        if file.exists():
            os.chown(file, directory.st_uid, directory.st_gid)


def _copy(source_file: Path, target_file: Path) -> None:
    """Copied into a file beside the target and renamed into place: the target is either
    absent or whole, never half written."""
    partial = target_file.with_name(f".{target_file.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"{source_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target)
            # One self-contained file: a WAL-mode copy would grow -wal and -shm files
            # beside it whenever it is read. The router turns WAL on again as it opens it.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    # The whole exchange's record: for the router's user (or the operator's) alone.
    partial.chmod(0o600)
    partial.replace(target_file)


def _check_is_ledger(file: Path) -> None:
    if not file.is_file():
        raise LedgerAdminError(_("no backup at {file}").format(file=file))
    try:
        db = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            (status,) = db.execute("PRAGMA quick_check").fetchone()
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_LEDGER_TABLE,)
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise LedgerAdminError(
            _("{file} is not a ledger backup: {error}").format(file=file, error=exc)
        ) from exc
    if status != "ok" or not found:
        raise LedgerAdminError(
            _("{file} is not a ledger backup ({status}); nothing was changed").format(
                file=file, status=status
            )
        )
