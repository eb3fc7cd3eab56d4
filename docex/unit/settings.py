"""A unit's connection settings: who it is, how it reaches the broker, where its seal is."""

from __future__ import annotations

from pathlib import Path

import msgspec

from docex.settings_file import read_settings


class UnitSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    unit: str
    amqp_url: str
    # The other nodes of a RabbitMQ cluster: moved to when the node in use stays away for 5 s.
    amqp_urls: list[str] = []
    prefix: str = "docex"
    seal_carrier: str
    # The unit's verification seal (验证印章), needed only to print (§35).
    verification_carrier: str = ""
    ca_certificate: str
    # The CA's revocation list (revocations.crl), kept current by the General Office; "" = none.
    revocation_list: str = ""
    mailbox: str
    # Who seals and who sends (§29), by name, when `send` is not told: a registrar who does
    # both every day sets them once.
    sealed_by: str = ""
    sent_by: str = ""
    # The time zone printed copies show their time in (§35).
    timezone: str = "Asia/Shanghai"
    # The personal credential (docex/persons.py) of who acts, once the unit has a register
    # of persons (§13–§15): every command is signed with it. Its password comes from
    # `person_password_file`, or else from DOCEX_PERSON_PASSWORD. An adapter holds a system
    # account's credential the same way.
    person_credential: str = ""
    person_password_file: str = ""


def load_unit_settings(path: Path) -> UnitSettings:
    """Relative paths in the file are taken relative to the file itself."""
    settings = read_settings(path, UnitSettings)
    base = path.parent.resolve()
    for field in (
        "seal_carrier",
        "verification_carrier",
        "ca_certificate",
        "revocation_list",
        "mailbox",
        "person_credential",
        "person_password_file",
    ):
        if getattr(settings, field):
            setattr(settings, field, str(base / getattr(settings, field)))
    return settings
