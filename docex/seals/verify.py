"""Checking a seal on arrival: is it ours, is it current, is it the right one, does it match.

The router verifies thousands of seals a second but sees few distinct certificates, so the
CA-chain check and identity parsing are remembered per certificate; what depends on the
moment (validity, revocation) or the document (unit, kind, signature) is checked every time.

A seal is judged at the `at` the caller passes, never at a time the sealer claims: the router
passes its own clock at acceptance, a recipient the router's acceptance time (`sent_at`). So a
document accepted before its seal was revoked stays valid, and one accepted after is refused,
whatever sealing time it states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from docex.seals.ca import load_ca_certificate
from docex.seals.certificate import seal_identity, serial_hex
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.revocation import RevocationList, load_revocation_list
from docex.seals.signature import holds as signature_holds

CACHE_SIZE = 4096


@dataclass(frozen=True)
class _Trusted:
    certificate: x509.Certificate
    # The raw 32 bytes, as docex/seals/signature.py takes them.
    public_key: bytes
    unit_id: str
    kind: SealKind


class SealVerifier:
    """Trusts seal certificates issued directly by one exchange CA, and not revoked by it."""

    def __init__(
        self, ca_certificate: x509.Certificate, revocations: RevocationList | None = None
    ) -> None:
        self._ca_certificate = ca_certificate
        self._trusted: dict[bytes, _Trusted] = {}
        self._revocations = revocations if revocations is not None else RevocationList(0, [])

    @classmethod
    def from_files(cls, ca_certificate: Path, revocation_list: Path | None = None) -> SealVerifier:
        """How the router and units build theirs from their configured paths."""
        certificate = load_ca_certificate(ca_certificate)
        if revocation_list is None:
            return cls(certificate)
        return cls(certificate, load_revocation_list(revocation_list, certificate))

    def replace_revocations(self, path: Path) -> None:
        """Take the list now at `path` (a reload after a ceremony); on any error keep the one in
        use. An older list is refused: it would forget the revocations made since."""
        revocations = load_revocation_list(path, self._ca_certificate)
        if revocations.number < self._revocations.number:
            raise SealError(
                "revocation_list_stale",
                f"revocation list number {revocations.number} is older than the one in use "
                f"({self._revocations.number})",
            )
        self._revocations = revocations

    def verify(
        self,
        certificate_der: bytes,
        data: bytes,
        signature: bytes,
        *,
        unit_id: str,
        kind: SealKind,
        at: datetime,
    ) -> x509.Certificate:
        """Return the seal's certificate, or raise SealError naming the first check that failed."""
        trusted = self._trusted.get(certificate_der)
        if trusted is None:
            trusted = self._trust(certificate_der)
        cert = trusted.certificate
        if at < cert.not_valid_before_utc:
            raise SealError(
                "seal_expired",
                f"seal {serial_hex(cert)} is not yet valid at {at.isoformat()}: "
                f"valid from {cert.not_valid_before_utc.isoformat()}",
            )
        if at > cert.not_valid_after_utc:
            raise SealError(
                "seal_expired",
                f"seal {serial_hex(cert)} expired at {cert.not_valid_after_utc.isoformat()}, "
                f"before {at.isoformat()}",
            )
        revocation = self._revocations.get(cert.serial_number)
        if revocation is not None and at >= revocation.revoked_at:
            raise SealError(
                "seal_revoked",
                f"seal {serial_hex(cert)} was {revocation.describe()}; "
                f"it seals nothing from then on (judged at {at.isoformat()})",
            )
        if trusted.unit_id != unit_id:
            raise SealError(
                "seal_wrong_unit",
                f"seal {serial_hex(cert)} belongs to unit {trusted.unit_id!r}, not {unit_id!r}",
            )
        if trusted.kind != kind:
            raise SealError(
                "seal_wrong_kind",
                f"seal {serial_hex(cert)} is a {trusted.kind} seal; a {kind} seal is required",
            )
        if not signature_holds(trusted.public_key, signature, data):
            raise SealError(
                "seal_bad_signature",
                f"signature does not match the data for seal {serial_hex(cert)}",
            )
        return cert

    def _trust(self, certificate_der: bytes) -> _Trusted:
        try:
            cert = x509.load_der_x509_certificate(certificate_der)
        except ValueError:
            raise SealError("seal_untrusted", "seal certificate is not valid DER X.509") from None
        try:
            cert.verify_directly_issued_by(self._ca_certificate)
        except (ValueError, TypeError, InvalidSignature):
            raise SealError(
                "seal_untrusted",
                f"seal {serial_hex(cert)} is not issued by this exchange's CA",
            ) from None
        public_key = cert.public_key()
        if not isinstance(public_key, Ed25519PublicKey):
            raise SealError("seal_untrusted", f"seal {serial_hex(cert)} is not an Ed25519 key")
        unit_id, kind = seal_identity(cert)
        if len(self._trusted) >= CACHE_SIZE:
            del self._trusted[next(iter(self._trusted))]  # the oldest entry
        trusted = _Trusted(cert, public_key.public_bytes_raw(), unit_id, kind)
        self._trusted[certificate_der] = trusted
        return trusted
