"""What must be in place before the router starts: its ledger, its spool folder, the files it
reads. `docex config check` and `docex router run` ask the same questions, so a problem found
at 3 a.m. by a failing start is one the check would have named at install time.
"""

from __future__ import annotations

import os
from pathlib import Path

from docex.config import Config
from docex.i18n import _
from docex.ledger.location import is_postgresql
from docex.router import credentials
from docex.writable import blocked_by


def startup_problems(
    config: Config, config_path: Path, *, create_ledger: bool = False, starting: bool = True
) -> list[str]:
    """Each problem one line naming the setting and the path, and what to do about it.
    `create_ledger`: a missing ledger is to be made (`router run --init-ledger`).
    `starting=False` (`docex config check` by hand): the seal's password may be a credential
    only systemd will hand the router, so its absence here is `missing_seal_password`'s."""
    # A PostgreSQL ledger is the server's to keep; the router finds out when it connects.
    ledger = (
        []
        if is_postgresql(config.router.ledger)
        else _ledger_problems(Path(config.router.ledger), config_path, create_ledger)
    )
    return (
        ledger
        + _spool_problems(Path(config.links.spool_dir))
        + _secret_problems(config, starting)
        + config.unreadable_files()
    )


def missing_seal_password(config: Config) -> str | None:
    """Neither a password file in the config nor a credential from systemd: a problem for a
    starting router, a warning for a check run by hand, outside the service."""
    if credentials.seal_password_file(config) is not None:
        return None
    return _(
        "router.seal_password_file: not set, and no seal-password credential"
        " ($CREDENTIALS_DIRECTORY/{name}); name the file, or give the"
        " credential (LoadCredential= in docex-router.service)"
    ).format(name=credentials.SEAL_PASSWORD)


def _ledger_problems(ledger: Path, config_path: Path, create: bool) -> list[str]:
    where = f"router.ledger: {ledger}"
    if ledger.is_dir():
        return [_("{where} is a directory; name the ledger file inside it").format(where=where)]
    if not ledger.exists():
        if not create:
            return [
                _(
                    "{where}: no ledger there; `docex ledger init --config {config}` creates"
                    " it (or restore a backup: `docex ledger restore`)"
                ).format(where=where, config=config_path)
            ]
        return _creatable(where, ledger.parent)
    problems = []
    if not os.access(ledger, os.R_OK | os.W_OK):
        problems.append(_("{where}: cannot read and write it as this user").format(where=where))
    # SQLite writes the write-ahead log and the lock file beside the ledger.
    if not os.access(ledger.parent, os.W_OK | os.X_OK):
        problems.append(
            _("{where}: its folder {folder} is not writable as this user").format(
                where=where, folder=ledger.parent
            )
        )
    return problems


def _spool_problems(spool: Path) -> list[str]:
    where = f"links.spool_dir: {spool}"
    if spool.exists() and not spool.is_dir():
        return [_("{where} is not a folder").format(where=where)]
    return _creatable(where, spool)


def _creatable(where: str, folder: Path) -> list[str]:
    blocker = blocked_by(folder)
    if blocker is None:
        return []
    return [
        _("{where}: cannot write there as this user, {blocker} is not a writable folder").format(
            where=where, blocker=blocker
        )
    ]


def _secret_problems(config: Config, starting: bool) -> list[str]:
    missing = missing_seal_password(config) if starting else None
    problems = [missing] if missing else []
    for name in (credentials.SEAL_PASSWORD, credentials.BROKER_PASSWORD):
        given = credentials.credential(name)
        if given is not None and not os.access(given, os.R_OK):
            problems.append(_("credential {path}: cannot read it as this user").format(path=given))
    return problems
