"""The register of every seal the CA ever issued (issued.jsonl), one certificate a line.

Appended at each ceremony that issues a seal, never rewritten: a seal that was revoked or has
expired keeps its line, so `docex seal list` can answer for any seal a document ever carried.
Each line holds the whole certificate, whose CA signature is checked on reading, so an edited
line is refused rather than believed. Revocations live in the revocation list, not here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from docex.seals.certificate import seal_identity, serial_hex
from docex.seals.errors import SealError
from docex.seals.files import append_line
from docex.seals.kinds import SealKind
from docex.seals.revocation import RevocationList

ISSUED_FILE = "issued.jsonl"


@dataclass(frozen=True)
class IssuedSeal:
    certificate: x509.Certificate
    ceremony: int  # the sequence number of the ceremony record that issued it

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate)

    @property
    def unit_id(self) -> str:
        return seal_identity(self.certificate)[0]

    @property
    def kind(self) -> SealKind:
        return seal_identity(self.certificate)[1]

    def status(self, revocations: RevocationList, at: datetime) -> str:
        """valid, revoked (with reason and time), expired or not yet valid, as of `at`."""
        revocation = revocations.get(self.certificate.serial_number)
        if revocation is not None and at >= revocation.revoked_at:
            return revocation.describe()
        if at > self.certificate.not_valid_after_utc:
            return "expired"
        if at < self.certificate.not_valid_before_utc:
            return "not yet valid"
        return "valid"


def record_issued(path: Path, certificate: x509.Certificate, ceremony: int) -> None:
    unit_id, kind = seal_identity(certificate)
    der = certificate.public_bytes(serialization.Encoding.DER)
    line = {
        "serial": serial_hex(certificate),
        "unit": unit_id,
        "kind": kind.value,
        "ceremony": ceremony,
        "certificate": base64.b64encode(der).decode("ascii"),
    }
    append_line(path, json.dumps(line, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def load_issued(path: Path, ca_certificate: x509.Certificate) -> list[IssuedSeal]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as e:
        raise SealError("register_damaged", f"cannot read {path}: {e.strerror}") from None
    return [_parse(line, number, path, ca_certificate) for number, line in enumerate(lines, 1)]


def find_issued(seals: list[IssuedSeal], serial: str) -> IssuedSeal:
    for seal in seals:
        if seal.serial == serial.lower():
            return seal
    raise SealError("seal_unknown", f"the CA never issued a seal with serial {serial}")


def _parse(line: bytes, number: int, path: Path, ca_certificate: x509.Certificate) -> IssuedSeal:
    try:
        record = json.loads(line)
        certificate = x509.load_der_x509_certificate(base64.b64decode(record["certificate"]))
        certificate.verify_directly_issued_by(ca_certificate)
        return IssuedSeal(certificate, int(record["ceremony"]))
    except (ValueError, KeyError, TypeError, InvalidSignature):
        raise SealError(
            "register_damaged",
            f"{path} line {number}: not a certificate issued by this CA",
        ) from None
