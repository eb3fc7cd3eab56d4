"""The ceremony log (ceremonies.jsonl): every seal made, changed or destroyed, and by whom.

One JSON record a line, appended, never rewritten. Each record carries its sequence number,
the SHA-256 of the record before it (the first one: of the CA certificate, which ties the log
to its CA) and the CA's signature over the rest. Editing a record breaks its signature;
removing, inserting or reordering records breaks the sequence or the chain; only the CA key,
which no one holds alone, can write a record that passes. Verification names the first line
that fails and why, so an auditor knows where the trustworthy part of the log ends.

Records are signed and chained in a canonical JSON form (sorted keys, no spaces, UTF-8), which
is also the form written.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from docex.seals.ca import CertificateAuthority
from docex.seals.certificate import fingerprint
from docex.seals.errors import SealError
from docex.seals.files import append_line

LOG_FILE = "ceremonies.jsonl"

Record = dict[str, Any]


class CeremonyLogError(SealError):
    """`line` is the first line of the log that cannot be trusted (1-based)."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__("ceremony_log_broken", f"{LOG_FILE} line {line}: {why}")
        self.line = line


def append_record(
    path: Path, ca: CertificateAuthority, previous: Record | None, fields: Record
) -> Record:
    """Sign and append; `previous` is the last record of a log already verified."""
    record = dict(fields)
    record["seq"] = 1 if previous is None else previous["seq"] + 1
    record["prev"] = fingerprint(ca.certificate) if previous is None else _digest(previous)
    record["signature"] = base64.b64encode(ca.sign(_canonical(record))).decode("ascii")
    append_line(path, _canonical(record))
    return record


def read_log(path: Path, ca_certificate: x509.Certificate) -> list[Record]:
    """Every record, each checked against its CA signature and the one before it."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as e:
        raise SealError("ceremony_log_missing", f"cannot read {path}: {e.strerror}") from None
    if not lines:
        raise CeremonyLogError(1, "the log is empty; its first record is the CA's making")
    public_key = ca_certificate.public_key()
    assert isinstance(public_key, Ed25519PublicKey)
    records: list[Record] = []
    expected_prev = fingerprint(ca_certificate)
    for number, line in enumerate(lines, 1):
        record = _parse(line, number)
        unsigned = {name: value for name, value in record.items() if name != "signature"}
        try:
            public_key.verify(base64.b64decode(record["signature"]), _canonical(unsigned))
        except InvalidSignature:
            raise CeremonyLogError(
                number,
                "its CA signature does not match: the record was altered, "
                "or was not written by this CA",
            ) from None
        if record["seq"] != number:
            raise CeremonyLogError(
                number,
                f"it is record {record['seq']} where record {number} belongs: "
                "a record before it was removed, or records were reordered",
            )
        if record["prev"] != expected_prev:
            raise CeremonyLogError(
                number, "it does not follow the record before it: the log was spliced"
            )
        expected_prev = _digest(record)
        records.append(record)
    return records


def _parse(line: bytes, number: int) -> Record:
    try:
        record = json.loads(line)
        if not (
            isinstance(record, dict)
            and isinstance(record.get("seq"), int)
            and isinstance(record.get("prev"), str)
            and isinstance(record.get("signature"), str)
        ):
            raise ValueError("missing seq, prev or signature")
        base64.b64decode(record["signature"], validate=True)
    except ValueError:  # json.JSONDecodeError and binascii.Error are ValueErrors
        raise CeremonyLogError(number, "it is not a ceremony record (damaged or cut)") from None
    return record


def _canonical(record: Record) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _digest(record: Record) -> str:
    return hashlib.sha256(_canonical(record)).hexdigest()
