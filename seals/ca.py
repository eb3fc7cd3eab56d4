"""The exchange CA: the General Office (市府办公厅) vouching for every seal.

Today its key sits in one password-protected carrier (ca.key) beside its certificate (ca.crt).
Split custody and ceremonies will replace how the key is opened, not what a
CertificateAuthority is, which is why it is built from a certificate and a key.
"""

from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

from seals.carrier import read_carrier, write_carrier
from seals.certificate import seal_subject
from seals.errors import SealError
from seals.kinds import SealKind

CERTIFICATE_FILE = "ca.crt"
KEY_FILE = "ca.key"
CA_VALIDITY = timedelta(days=20 * 365 + 5)  # twenty years, leap days included


class CertificateAuthority:
    """An opened CA: able to issue seal certificates until it is dropped."""

    def __init__(self, certificate: x509.Certificate, private_key: Ed25519PrivateKey) -> None:
        self.certificate = certificate
        self._private_key = private_key

    def issue(
        self,
        unit_id: str,
        unit_name: str,
        kind: SealKind,
        public_key: Ed25519PublicKey,
        *,
        not_before: datetime,
        valid_days: int = 3650,
    ) -> x509.Certificate:
        """Bind a key to one unit and one kind; the certificate can sign nothing else."""
        return (
            x509.CertificateBuilder()
            .subject_name(seal_subject(unit_id, unit_name, kind))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .sign(self._private_key, algorithm=None)
        )


def init_ca(directory: Path, name: str, password: str, *, now: datetime) -> CertificateAuthority:
    """Refuse to overwrite: a new CA key would orphan every seal the old one issued."""
    key_path = directory / KEY_FILE
    if key_path.exists():
        raise SealError("ca_exists", f"a CA already exists at {directory} ({key_path})")
    directory.mkdir(parents=True, exist_ok=True)
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
    (directory / CERTIFICATE_FILE).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    # The key goes last: its presence is what marks the CA as made.
    write_carrier(key_path, private_key, None, password)
    return CertificateAuthority(certificate, private_key)


def open_ca(directory: Path, password: str) -> CertificateAuthority:
    """Check the key matches ca.crt, or every seal issued from here would fail to verify."""
    key_path = directory / KEY_FILE
    if not key_path.exists():
        raise SealError("ca_missing", f"no CA key at {key_path}; run `seal ca-init` first")
    certificate = load_ca_certificate(directory / CERTIFICATE_FILE)
    private_key, _ = read_carrier(key_path, password)
    if private_key.public_key() != certificate.public_key():
        raise SealError(
            "ca_missing", f"{key_path} does not hold the key of {directory / CERTIFICATE_FILE}"
        )
    return CertificateAuthority(certificate, private_key)


def load_ca_certificate(path: Path) -> x509.Certificate:
    """What the router and the seal holders trust; no key or password needed."""
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
