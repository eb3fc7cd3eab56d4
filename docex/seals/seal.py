"""A seal in use: an opened carrier that signs on behalf of one unit."""

from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from docex.seals.ca import CertificateAuthority
from docex.seals.carrier import read_carrier, write_carrier
from docex.seals.certificate import seal_identity, serial_hex
from docex.seals.kinds import SealKind


class Seal:
    """Carries its certificate so every signature can ship with the proof of whose it is."""

    def __init__(self, private_key: Ed25519PrivateKey, certificate: x509.Certificate) -> None:
        self._private_key = private_key
        self.certificate = certificate
        self.unit_id, self.kind = seal_identity(certificate)

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    @property
    def certificate_der(self) -> bytes:
        """The form envelopes carry and SealVerifier takes."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def unit_name(self) -> str:
        """The unit's name as the CA wrote it into the certificate (e.g. 市财政局)."""
        names = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else ""

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate)


def open_seal(path: Path, password: str) -> Seal:
    """Open a seal carrier with its password (held by another custodian than the file, §24)."""
    private_key, certificate = read_carrier(path, password)
    return Seal(private_key, certificate)


CLOCK_SKEW = timedelta(minutes=10)


def issue_seal(
    ca: CertificateAuthority,
    unit_id: str,
    unit_name: str,
    kind: SealKind,
    carrier_path: Path,
    password: str,
    *,
    now: datetime,
    image: bytes | None = None,
) -> Seal:
    """The key is born here and leaves only encrypted, inside the carrier.

    Validity starts a little before `now` so a router whose clock lags the issuing machine's
    does not refuse a seal issued minutes ago as not yet valid.
    """
    private_key = Ed25519PrivateKey.generate()
    certificate = ca.issue(
        unit_id,
        unit_name,
        kind,
        private_key.public_key(),
        not_before=now - CLOCK_SKEW,
        image=image,
    )
    write_carrier(carrier_path, private_key, certificate, password)
    return Seal(private_key, certificate)
