"""The hot folder's settings: the unit's own settings file (who it is on the exchange, its seal
carrier) plus where the folder and the journal are and who seals.

The seal's password is kept apart from the carrier (§24): a file only its custodian can read,
named here, or $DOCEX_SEAL_PASSWORD.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import msgspec

from docex.i18n import _
from docex.seals.carrier import PASSWORD_ENV
from docex.settings_file import SettingsError, read_secret, read_settings
from docex.unit.settings import UnitSettings, load_unit_settings


class SettingsFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    unit_settings: str
    folder: str
    journal: str
    seal_password_file: str = ""
    # The verification seal's password (print control files, §35), when the unit's settings
    # name a verification_carrier; else the signing seal's password is tried.
    verification_password_file: str = ""
    # Recorded in each envelope as who applied the seal (§29); a sidecar may name another.
    sealed_by: str = ""
    poll_interval_ms: int = 500
    # Larger files are rejected unread: the exchange takes nothing near this size anyway.
    max_document_bytes: int = 64 * 1024 * 1024


class HotFolderSettings(msgspec.Struct, kw_only=True):
    unit: UnitSettings
    folder: Path
    journal: Path
    seal_password: str
    verification_password: str = ""
    sealed_by: str
    poll_interval_s: float
    max_document_bytes: int


def load_hotfolder_settings(path: Path) -> HotFolderSettings:
    """Relative paths in the file are taken relative to the file itself."""
    data = read_settings(path, SettingsFile)
    if data.poll_interval_ms <= 0:
        raise SettingsError(_("{path}: poll_interval_ms must be positive").format(path=path))
    base = path.parent.resolve()
    return HotFolderSettings(
        unit=load_unit_settings(base / data.unit_settings),
        folder=base / data.folder,
        journal=base / data.journal,
        seal_password=_seal_password(base, data.seal_password_file),
        verification_password=_seal_password(
            base, data.verification_password_file or data.seal_password_file
        ),
        sealed_by=data.sealed_by or getpass.getuser(),
        poll_interval_s=data.poll_interval_ms / 1000,
        max_document_bytes=data.max_document_bytes,
    )


def _seal_password(base: Path, file_name: str) -> str:
    password = read_secret(base / file_name if file_name else None, PASSWORD_ENV)
    if password is None:
        raise SettingsError(
            _("name seal_password_file in the settings, or set ${env}").format(env=PASSWORD_ENV)
        )
    return password
