"""The revocation list: seals the CA has withdrawn, since when, and why.

It is a standard X.509 CRL signed by the CA key, so `openssl crl -text` reads it too. A seal is
withdrawn from its revocation time on, never before (§25): documents it sealed before stay
valid, so a revocation is never backdated, and each entry carries its time and a reason code.

The rulebook's reasons map one to one onto RFC 5280 reason codes, which keeps the list
standard and lets the reason be read back exactly:

| docex    | rulebook            | RFC 5280 CRLReason    |
|----------|---------------------|-----------------------|
| renamed  | §9(一) 名称变更      | affiliationChanged    |
| revoked  | §9(二) 被撤销 (注销) | privilegeWithdrawn    |
| merged   | §9(三) 合并          | cessationOfOperation  |
| lost     | §25 遗失             | keyCompromise         |
| damaged  | §25 损坏             | superseded            |

Each new list carries a CRL number one higher than the one it replaces, so a verifier can
refuse to go back to an older list (one that lacks a later revocation).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from docex.seals.ca import CertificateAuthority
from docex.seals.errors import SealError
from docex.seals.files import write_public

REVOCATION_LIST_FILE = "revocations.crl"


class Reason(enum.StrEnum):
    RENAMED = "renamed"
    REVOKED = "revoked"
    MERGED = "merged"
    LOST = "lost"
    DAMAGED = "damaged"


_CODES = {
    Reason.RENAMED: x509.ReasonFlags.affiliation_changed,
    Reason.REVOKED: x509.ReasonFlags.privilege_withdrawn,
    Reason.MERGED: x509.ReasonFlags.cessation_of_operation,
    Reason.LOST: x509.ReasonFlags.key_compromise,
    Reason.DAMAGED: x509.ReasonFlags.superseded,
}
_REASONS = {code: reason for reason, code in _CODES.items()}


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: datetime
    reason: Reason

    def describe(self) -> str:
        return f"revoked ({self.reason}) at {self.revoked_at.isoformat()}"


class RevocationList:
    """A revocation list whose CA signature has been checked."""

    def __init__(self, number: int, revocations: Iterable[Revocation]) -> None:
        self.number = number
        self._by_serial: Mapping[int, Revocation] = {r.serial: r for r in revocations}

    def get(self, serial: int) -> Revocation | None:
        return self._by_serial.get(serial)

    def __iter__(self) -> Iterator[Revocation]:
        return iter(self._by_serial.values())

    def __len__(self) -> int:
        return len(self._by_serial)


def build_revocation_list(
    ca: CertificateAuthority, revocations: Iterable[Revocation], *, number: int, now: datetime
) -> bytes:
    """The whole list, PEM. Its next-update time is the CA's end of validity: the list is
    replaced at each revocation, and a verifier keeps the newest it has rather than refusing
    one for being old."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .last_update(now)
        .next_update(ca.certificate.not_valid_after_utc)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for revocation in revocations:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revocation.serial)
            .revocation_date(revocation.revoked_at)
            .add_extension(x509.CRLReason(_CODES[revocation.reason]), critical=False)
            .build()
        )
    return ca.sign_revocation_list(builder).public_bytes(serialization.Encoding.PEM)


def write_revocation_list(path: Path, pem: bytes) -> None:
    write_public(path, pem)


def load_revocation_list(path: Path, ca_certificate: x509.Certificate) -> RevocationList:
    try:
        pem = path.read_bytes()
    except OSError as e:
        raise SealError(
            "revocation_list_unreadable", f"cannot read revocation list {path}: {e.strerror}"
        ) from None
    return parse_revocation_list(pem, ca_certificate, source=str(path))


def parse_revocation_list(
    pem: bytes, ca_certificate: x509.Certificate, *, source: str
) -> RevocationList:
    """Trust nothing in it until the CA's signature over it checks out."""
    try:
        crl = x509.load_pem_x509_crl(pem)
    except ValueError:
        raise SealError(
            "revocation_list_unreadable", f"{source} is not a PEM revocation list"
        ) from None
    if crl.issuer != ca_certificate.subject or not crl.is_signature_valid(
        ca_certificate.public_key()  # type: ignore[arg-type]  # an Ed25519 CA key
    ):
        raise SealError(
            "revocation_list_untrusted",
            f"revocation list {source} is not signed by this exchange's CA",
        )
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        revocations = [_revocation(entry) for entry in crl]
    except (x509.ExtensionNotFound, KeyError):
        raise SealError(
            "revocation_list_unreadable",
            f"revocation list {source} lacks a CRL number or an entry's docex reason code",
        ) from None
    return RevocationList(number, revocations)


def _revocation(entry: x509.RevokedCertificate) -> Revocation:
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    return Revocation(entry.serial_number, entry.revocation_date_utc, _REASONS[reason])
