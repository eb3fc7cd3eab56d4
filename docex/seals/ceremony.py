"""Seal ceremonies (§20–§25): making, changing and destroying seals, with §23's parties present.

The CA opens only when the custodians present bring enough shares of its key (custody.py),
every custodian custody.toml marks as required is among them, and a person of the unit whose
seal it is attends (§23). All checks run before anything is written, so a refused ceremony
leaves the CA directory as it was. Then come, in order: the new carrier, its line in the
register (issued.jsonl), the revocation list, and last the CA-signed ceremony record. A crash
between two writes leaves an earlier one without its record; `docex seal log verify` names a
seal in the register or the revocation list that no record accounts for.

§21: a ceremony is held on the unit's written application, signed by the unit's head and
approved by a leader of the General Office. Each of make, change and destroy takes that
`Approval` (the application's reference and both names); it goes into the signed record, so
the log shows on whose authority every seal was made, changed or destroyed.

The owning unit holds no share of the CA key: units come and go, SLIP-39 makes at most 16
shares, and a unit holding one could help make any other unit's seal. The person who attends
for it is named in the signed record.

Ceremony times are whole seconds, the resolution of X.509, so the record and the revocation
list agree on the instant a seal stopped sealing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from docex.seals.ca import CERTIFICATE_FILE, CertificateAuthority, init_ca, load_ca_certificate
from docex.seals.ceremony_log import LOG_FILE, CeremonyLogError, Record, append_record, read_log
from docex.seals.certificate import check_seal_image, seal_identity, seal_image, serial_hex
from docex.seals.custody import (
    Custody,
    check_policy,
    load_custody,
    rebuild_ca,
    save_custody,
    share_path,
    split_key,
    write_share_file,
)
from docex.seals.errors import SealError
from docex.seals.files import write_public
from docex.seals.issued import ISSUED_FILE, IssuedSeal, find_issued, load_issued, record_issued
from docex.seals.kinds import EXCHANGE_UNIT_ID, SealKind
from docex.seals.revocation import (
    REVOCATION_LIST_FILE,
    Reason,
    Revocation,
    build_revocation_list,
    load_revocation_list,
    write_revocation_list,
)
from docex.seals.seal import Seal, issue_seal

# A seal is changed (replaced) when the unit is renamed or the seal lost or damaged (§25); a
# revoked or merged unit's seal is destroyed.
CHANGE_REASONS = (Reason.RENAMED, Reason.LOST, Reason.DAMAGED)


# What an approval's fields may hold: a reference (申请文号) or a person's name, on one line.
APPROVAL_FIELD_MAX = 64


@dataclass(frozen=True)
class Approval:
    """§21: the unit's written application (its reference), the head of the unit who signed
    it, and the General Office leader who approved it."""

    reference: str
    unit_head: str
    approved_by: str

    def record(self) -> dict[str, str]:
        return {
            "reference": self.reference,
            "unit_head": self.unit_head,
            "approved_by": self.approved_by,
        }


def check_approval(approval: Approval) -> None:
    """Refused before the CA opens: each field named, on one line, of a bounded length."""
    for field, what in (
        ("reference", "the application's reference (--application)"),
        ("unit_head", "the unit head who signed the application (--unit-head)"),
        ("approved_by", "the General Office leader who approved it (--approved-by)"),
    ):
        value = getattr(approval, field)
        if not value.strip():
            raise SealError("approval_missing", f"§21: a ceremony needs {what}")
        if len(value) > APPROVAL_FIELD_MAX or not value.isprintable():
            raise SealError(
                "approval_invalid",
                f"§21: {what} must be one line of at most {APPROVAL_FIELD_MAX} characters",
            )


@dataclass(frozen=True)
class Presence:
    """Who attends: the custodians' share words by role, and the name of each person present
    by role (a custodian role, or the owning unit's id)."""

    shares: Mapping[str, str]
    names: Mapping[str, str]


def establish(
    ca_dir: Path, name: str, shares_dir: Path, custody: Custody, *, now: datetime
) -> Custody:
    """`ca-init`: make the CA, split its key among the custodians, and start its records.

    The shares go to `shares_dir`, one file per custodian, to be handed out; none may stay
    in the CA directory, or whoever reads it could use the key alone."""
    now = _whole_seconds(now)
    check_policy(custody)
    if ca_dir.exists() and any(ca_dir.iterdir()):
        raise SealError("ca_exists", f"{ca_dir} is not empty; a CA is made in a new directory")
    _check_shares_dir(ca_dir, shares_dir, custody)
    with init_ca(ca_dir, name, now=now) as ca:
        custody = _split(ca, custody, shares_dir)
        custody_sha256 = save_custody(ca_dir, custody)
        empty = build_revocation_list(ca, [], number=0, now=now)
        write_revocation_list(ca_dir / REVOCATION_LIST_FILE, empty)
        write_public(ca_dir / ISSUED_FILE, b"")
        fields = {
            "act": "ca-init",
            "at": now.isoformat(),
            "ca": name,
            "custody_sha256": custody_sha256,
            "threshold": custody.threshold,
            "custodians": [c.role for c in custody.custodians],
        }
        append_record(ca_dir / LOG_FILE, ca, None, fields)
    return custody


def make(
    ca_dir: Path,
    presence: Presence,
    unit_id: str,
    unit_name: str,
    kind: SealKind,
    carrier: Path,
    password: str,
    *,
    now: datetime,
    approval: Approval,
    image: bytes | None = None,
) -> Seal:
    """Issue a unit a new seal into a new carrier file."""
    now = _whole_seconds(now)
    check_approval(approval)
    if (kind == SealKind.EXCHANGE) != (unit_id == EXCHANGE_UNIT_ID):
        raise SealError(
            "seal_kind_not_allowed",
            f"the {SealKind.EXCHANGE} seal is the exchange's own: only unit "
            f"{EXCHANGE_UNIT_ID!r} holds one, and holds no other kind",
        )
    if image is not None:
        check_seal_image(image)
    _refuse_existing_carrier(carrier)
    with _records(ca_dir) as records:
        current = records.current_seal(unit_id, kind, now)
        if current is not None:
            raise SealError(
                "seal_exists",
                f"unit {unit_id} already has a valid {kind} seal ({current.serial}); "
                "change it instead",
            )
        with records.open_ca(presence, owner=unit_id, now=now) as ca:
            seal = issue_seal(ca, unit_id, unit_name, kind, carrier, password, now=now, image=image)
            record_issued(ca_dir / ISSUED_FILE, seal.certificate, records.next_seq)
            fields = _describe(seal.certificate) | {"approval": approval.record()}
            records.append(ca, presence, unit_id, now, "make", fields)
    return seal


def change(
    ca_dir: Path,
    presence: Presence,
    serial: str,
    reason: Reason,
    carrier: Path,
    password: str,
    *,
    now: datetime,
    approval: Approval,
    unit_name: str | None = None,
    image: bytes | None = None,
) -> tuple[Seal, Revocation]:
    """Issue a replacement for a seal and revoke the old one from now on. The new seal keeps
    the old one's unit and kind, and its image unless a new one is given."""
    now = _whole_seconds(now)
    check_approval(approval)
    if reason not in CHANGE_REASONS:
        raise SealError(
            "reason_invalid",
            f"a seal is changed when {', '.join(CHANGE_REASONS)}; "
            f"a {reason} unit's seal is destroyed",
        )
    if image is not None:
        check_seal_image(image)
    _refuse_existing_carrier(carrier)
    with _records(ca_dir) as records:
        old = records.live_seal(serial)
        unit_id, kind = seal_identity(old.certificate)
        old_name = _common_name(old.certificate)
        if reason == Reason.RENAMED and unit_name in (None, old_name):
            raise SealError("reason_invalid", "a renamed unit's new seal needs its new name")
        with records.open_ca(presence, owner=unit_id, now=now) as ca:
            seal = issue_seal(
                ca,
                unit_id,
                unit_name or old_name,
                kind,
                carrier,
                password,
                now=now,
                image=image if image is not None else seal_image(old.certificate),
            )
            record_issued(ca_dir / ISSUED_FILE, seal.certificate, records.next_seq)
            revocation = records.revoke(ca, old, reason, now)
            fields = _describe(seal.certificate) | {
                "replaces": old.serial,
                "reason": reason.value,
                "approval": approval.record(),
            }
            records.append(ca, presence, unit_id, now, "change", fields)
    return seal, revocation


def destroy(
    ca_dir: Path,
    presence: Presence,
    serial: str,
    reason: Reason,
    *,
    now: datetime,
    approval: Approval,
) -> Revocation:
    """Revoke a seal from now on (§25: the old seal is handed back and destroyed)."""
    now = _whole_seconds(now)
    check_approval(approval)
    with _records(ca_dir) as records:
        old = records.live_seal(serial)
        unit_id, kind = seal_identity(old.certificate)
        with records.open_ca(presence, owner=unit_id, now=now) as ca:
            revocation = records.revoke(ca, old, reason, now)
            fields: dict[str, Any] = {"unit": unit_id, "kind": kind.value, "serial": old.serial}
            fields |= {"reason": reason.value, "approval": approval.record()}
            records.append(ca, presence, unit_id, now, "destroy", fields)
    return revocation


def reshare(
    ca_dir: Path, presence: Presence, custody: Custody, shares_dir: Path, *, now: datetime
) -> Custody:
    """`ca-reshare`: split the CA key anew when a custodian changes hands, or a share is lost
    or may have been seen (§22, §23). The custodians open the CA as at any ceremony, under the
    policy in force; `custody` (the same roles, or new ones) governs from then on.

    The new shares carry a new SLIP-39 identifier, so every later ceremony refuses the old
    ones. They would still rebuild the key in any SLIP-39 tool: have them destroyed, as §25
    has an old seal destroyed. The key itself, and so every seal, stays as it was.

    The new policy is written beside the old one and takes its place only after the record
    vouching for it is in the log; a crash in between is finished at the next ceremony."""
    now = _whole_seconds(now)
    check_policy(custody)
    _check_shares_dir(ca_dir, shares_dir, custody)
    with _records(ca_dir) as records:
        with records.open_ca(presence, owner=None, now=now) as ca:
            custody = _split(ca, custody, shares_dir)
            custody_sha256 = save_custody(ca_dir, custody, pending=True)
            fields = {
                "custody_sha256": custody_sha256,
                "threshold": custody.threshold,
                "custodians": [c.role for c in custody.custodians],
            }
            records.append(ca, presence, None, now, "reshare", fields)
        load_custody(ca_dir, custody_sha256)
    return custody


def custody_of(ca_dir: Path) -> Custody:
    """The custody policy, as the CA signed it: who to ask for shares before a ceremony."""
    certificate = load_ca_certificate(ca_dir / CERTIFICATE_FILE)
    return load_custody(ca_dir, _custody_sha256(read_log(ca_dir / LOG_FILE, certificate)))


def seal_owner(ca_dir: Path, serial: str) -> str:
    """The unit whose seal it is: who must attend its change or destruction (§23)."""
    certificate = load_ca_certificate(ca_dir / CERTIFICATE_FILE)
    return find_issued(load_issued(ca_dir / ISSUED_FILE, certificate), serial).unit_id


def list_seals(ca_dir: Path, at: datetime) -> list[tuple[IssuedSeal, str, Approval | None]]:
    """Every seal ever issued, oldest first, with its status at `at` and the approval (§21)
    it was made under, as the verified ceremony log records it (None before approvals were
    recorded)."""
    certificate = load_ca_certificate(ca_dir / CERTIFICATE_FILE)
    revocations = load_revocation_list(ca_dir / REVOCATION_LIST_FILE, certificate)
    issued = load_issued(ca_dir / ISSUED_FILE, certificate)
    made_under = {
        str(record["serial"]): approval_of(record)
        for record in read_log(ca_dir / LOG_FILE, certificate)
        if record["act"] in ("make", "change")
    }
    return [(seal, seal.status(revocations, at), made_under.get(seal.serial)) for seal in issued]


def approval_of(record: Record) -> Approval | None:
    """The approval (§21) a ceremony record carries; None for the CA's own ceremonies and
    for records written before approvals were recorded."""
    approval = record.get("approval")
    if not isinstance(approval, dict):
        return None
    return Approval(
        str(approval["reference"]), str(approval["unit_head"]), str(approval["approved_by"])
    )


def verify_records(ca_dir: Path) -> list[Record]:
    """Check the ceremony log, the custody policy it vouches for, and that the log accounts
    for every seal in the register and every entry of the revocation list: a record cut off
    the end of the log shows up there."""
    return _Records(ca_dir).log


class _Records:
    """The CA directory's records, read and checked under the ceremony lock."""

    def __init__(self, ca_dir: Path) -> None:
        self.ca_dir = ca_dir
        self.certificate = load_ca_certificate(ca_dir / CERTIFICATE_FILE)
        # A ceremony never appends to a log that does not verify.
        self.log = read_log(ca_dir / LOG_FILE, self.certificate)
        self.custody = load_custody(ca_dir, _custody_sha256(self.log))
        self.issued = load_issued(ca_dir / ISSUED_FILE, self.certificate)
        self.revocations = load_revocation_list(ca_dir / REVOCATION_LIST_FILE, self.certificate)
        self._check_accounted_for()

    def _check_accounted_for(self) -> None:
        issued_by_log = {r["serial"] for r in self.log if r["act"] in ("make", "change")}
        revoked_by_log = {r["replaces"] for r in self.log if r["act"] == "change"}
        revoked_by_log |= {r["serial"] for r in self.log if r["act"] == "destroy"}
        found = [(s.serial, "issued", issued_by_log) for s in self.issued]
        found += [(format(r.serial, "x"), "revoked", revoked_by_log) for r in self.revocations]
        for serial, what, logged in found:
            if serial not in logged:
                raise CeremonyLogError(
                    len(self.log) + 1,
                    f"missing: seal {serial} was {what}, but no record says so "
                    "(records were cut off the end of the log)",
                )

    @property
    def next_seq(self) -> int:
        return int(self.log[-1]["seq"]) + 1

    def current_seal(self, unit_id: str, kind: SealKind, at: datetime) -> IssuedSeal | None:
        mine = [s for s in self.issued if (s.unit_id, s.kind) == (unit_id, kind)]
        return next((s for s in mine if s.status(self.revocations, at) == "valid"), None)

    def live_seal(self, serial: str) -> IssuedSeal:
        seal = find_issued(self.issued, serial)
        revocation = self.revocations.get(seal.certificate.serial_number)
        if revocation is not None:
            raise SealError(
                "seal_already_revoked", f"seal {seal.serial} was {revocation.describe()}"
            )
        return seal

    @contextmanager
    def open_ca(
        self, presence: Presence, *, owner: str | None, now: datetime
    ) -> Iterator[CertificateAuthority]:
        """`owner`: the unit whose seal the ceremony is about, which must attend (§23); None
        for the CA's own business, which concerns its custodians alone."""
        last = datetime.fromisoformat(self.log[-1]["at"])
        if now < last:
            # Else a revocation could be dated before documents the router already accepted.
            raise SealError(
                "ceremony_clock_behind",
                f"this machine's clock ({now.isoformat()}) is behind the last ceremony "
                f"({last.isoformat()})",
            )
        _check_attendance(self.custody, presence, owner)
        with rebuild_ca(self.certificate, self.custody, presence.shares) as ca:
            yield ca

    def revoke(
        self, ca: CertificateAuthority, seal: IssuedSeal, reason: Reason, now: datetime
    ) -> Revocation:
        revocation = Revocation(seal.certificate.serial_number, now, reason)
        pem = build_revocation_list(
            ca, [*self.revocations, revocation], number=self.revocations.number + 1, now=now
        )
        write_revocation_list(self.ca_dir / REVOCATION_LIST_FILE, pem)
        return revocation

    def append(
        self,
        ca: CertificateAuthority,
        presence: Presence,
        owner: str | None,
        now: datetime,
        act: str,
        fields: dict[str, Any],
    ) -> None:
        roles = [c.role for c in self.custody.custodians] + ([owner] if owner else [])
        attendees = [
            {"role": role, "name": presence.names[role], "share": role in presence.shares}
            for role in roles
            if role in presence.names
        ]
        record = {"act": act, "at": now.isoformat(), "attendees": attendees} | fields
        self.log.append(append_record(self.ca_dir / LOG_FILE, ca, self.log[-1], record))


def _check_attendance(custody: Custody, presence: Presence, owner: str | None) -> None:
    """§23: the secrecy office, the information centre and the owning unit, all present."""
    if owner is not None and custody.custodian(owner) is not None:
        raise SealError(
            "custody_invalid", f"unit id {owner!r} is also a custodian role; rename the role"
        )
    for role in presence.names:
        if role != owner and custody.custodian(role) is None:
            whose = f" nor the unit {owner!r} whose seal it is" if owner else ""
            raise SealError("custodian_unknown", f"{role!r} is neither a custodian role{whose}")
    for custodian in custody.custodians:
        if custodian.required and custodian.role not in presence.shares:
            raise SealError(
                "custodian_absent",
                f"§23: {custodian.title} ({custodian.role}) must be present with its share",
            )
    if owner is not None and not presence.names.get(owner):
        raise SealError(
            "custodian_absent",
            f"§23: a person of unit {owner}, whose seal it is, must be present "
            f"(--attendee {owner}=NAME)",
        )
    for role in presence.shares:
        if not presence.names.get(role):
            raise SealError(
                "attendee_unnamed",
                f"name the person who brings the {role} share (--attendee {role}=NAME)",
            )


@contextmanager
def _records(ca_dir: Path) -> Iterator[_Records]:
    """One ceremony at a time per CA: the log is a chain, and two writers would fork it."""
    try:
        fd = os.open(ca_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise SealError("ca_missing", f"cannot open CA directory {ca_dir}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SealError(
                "ceremony_busy", f"another ceremony is being held at {ca_dir}"
            ) from None
        yield _Records(ca_dir)
    finally:
        os.close(fd)


def _check_shares_dir(ca_dir: Path, shares_dir: Path, custody: Custody) -> None:
    if shares_dir.resolve() == ca_dir.resolve() or ca_dir.resolve() in shares_dir.resolve().parents:
        raise SealError("custody_invalid", "the shares must not be written into the CA directory")
    existing = [
        str(path)
        for path in (share_path(shares_dir, c.role) for c in custody.custodians)
        if path.exists()
    ]
    if existing:
        raise SealError("share_exists", f"refusing to overwrite shares: {', '.join(existing)}")


def _split(ca: CertificateAuthority, custody: Custody, shares_dir: Path) -> Custody:
    """Split the key and write each custodian's share file; the policy with its split."""
    custody, shares = split_key(ca, custody)
    for custodian in custody.custodians:
        write_share_file(
            share_path(shares_dir, custodian.role),
            custodian,
            custody,
            ca.certificate,
            shares[custodian.role],
        )
    return custody


def _custody_sha256(log: list[Record]) -> str:
    """The policy in force: the one the latest ca-init or reshare record vouches for."""
    return str(next(r["custody_sha256"] for r in reversed(log) if "custody_sha256" in r))


def _describe(certificate: x509.Certificate) -> dict[str, Any]:
    unit_id, kind = seal_identity(certificate)
    image = seal_image(certificate)
    return {
        "unit": unit_id,
        "unit_name": _common_name(certificate),
        "kind": kind.value,
        "serial": serial_hex(certificate),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "image_sha256": hashlib.sha256(image).hexdigest() if image is not None else None,
    }


def _common_name(certificate: x509.Certificate) -> str:
    [name] = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(name.value)


def _refuse_existing_carrier(carrier: Path) -> None:
    if carrier.exists():
        raise SealError(
            "carrier_exists",
            f"refusing to overwrite {carrier}: a seal's carrier is destroyed "
            "in a ceremony, not written over",
        )


def _whole_seconds(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(microsecond=0)
