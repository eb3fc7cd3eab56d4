"""The exchange CA: the General Office (市府办公厅) vouching for every seal.

Only the CA's certificate (ca.crt) is kept whole. Its private key is split among custodians
(custody.py) and exists in memory only while a ceremony (ceremony.py) holds a
CertificateAuthority open; closing it drops the key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

from docex.seals.certificate import seal_image_extension, seal_subject
from docex.seals.errors import SealError
from docex.seals.files import write_public
from docex.seals.kinds import SealKind

CERTIFICATE_FILE = "ca.crt"
CA_VALIDITY = timedelta(days=20 * 365 + 5)  # twenty years, leap days included


class CertificateAuthority:
    """An opened CA: able to issue and sign until it is closed."""

    def __init__(self, certificate: x509.Certificate, private_key: Ed25519PrivateKey) -> None:
        self.certificate = certificate
        self._private_key: Ed25519PrivateKey | None = private_key

    def __enter__(self) -> CertificateAuthority:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop the key. OpenSSL clears an Ed25519 key's memory when it frees it; whether that
        happens now depends on no other reference to the key object being left in Python."""
        self._private_key = None

    def issue(
        self,
        unit_id: str,
        unit_name: str,
        kind: SealKind,
        public_key: Ed25519PublicKey,
        *,
        not_before: datetime,
        valid_days: int = 3650,
        image: bytes | None = None,
    ) -> x509.Certificate:
        """Bind a key to one unit and one kind; the certificate can sign nothing else."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(seal_subject(unit_id, unit_name, kind))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
        )
        if image is not None:
            builder = builder.add_extension(seal_image_extension(image), critical=False)
        return builder.sign(self._key(), algorithm=None)

    def sign(self, data: bytes) -> bytes:
        """For the CA's own records (the ceremony log), verified with ca.crt's public key."""
        return self._key().sign(data)

    def sign_revocation_list(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        return builder.issuer_name(self.certificate.subject).sign(self._key(), algorithm=None)

    def private_key_bytes(self) -> bytearray:
        """The raw key, for splitting it into custodians' shares only; the caller zeroes it.

        Best effort: cryptography hands the key out as immutable bytes, which Python cannot
        zero; that copy is dropped at once and lives until the memory is reused."""
        return bytearray(
            self._key().private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )

    def _key(self) -> Ed25519PrivateKey:
        if self._private_key is None:
            raise SealError("ca_closed", "the CA key was put away at the end of the ceremony")
        return self._private_key


def create_ca(name: str, *, now: datetime) -> CertificateAuthority:
    """A new self-signed CA with a fresh key; nothing is written."""
    private_key = Ed25519PrivateKey.generate()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(private_key, algorithm=None)
    )
    return CertificateAuthority(certificate, private_key)


def init_ca(directory: Path, name: str, *, now: datetime) -> CertificateAuthority:
    """Write ca.crt for a new CA whose key stays in the returned object only.

    `docex seal ca-init` (seals.ceremony.establish) calls this, then splits the key among the
    custodians: the key itself is never written to disk.
    """
    certificate_path = directory / CERTIFICATE_FILE
    if certificate_path.exists():
        raise SealError("ca_exists", f"a CA already exists at {directory} ({certificate_path})")
    ca = create_ca(name, now=now)
    write_public(certificate_path, ca.certificate.public_bytes(serialization.Encoding.PEM))
    return ca


def load_ca_certificate(path: Path) -> x509.Certificate:
    """What the router and the seal holders trust; no key or share needed."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as e:
        raise SealError("ca_missing", f"cannot read CA certificate {path}: {e.strerror}") from None
    except ValueError:
        raise SealError("ca_missing", f"{path} does not hold a PEM certificate") from None


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )
