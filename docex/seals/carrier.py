"""A seal carrier (载体): a file holding a private key encrypted under a password.

The rulebook (§24) gives the carrier and its password to different custodians, so the file
alone must be useless: the key is sealed with AES-256-GCM under a scrypt-derived key. The
certificate travels in clear beside it and is bound as associated data, so swapping in
another certificate fails exactly like a wrong password would.

File format (JSON, `format` = "docex-carrier/1"): scrypt parameters and salt, GCM nonce,
ciphertext of the raw 32-byte Ed25519 private key, and the certificate PEM. (Carriers of the
CA's own key, before it was split among custodians, had a null certificate; they are refused.)
"""

import base64
import json
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from docex.seals.errors import SealError
from docex.seals.files import write_private

FORMAT = "docex-carrier/1"
# Where the CLI and the adapters take a carrier's password from when no file is named.
PASSWORD_ENV = "DOCEX_SEAL_PASSWORD"

# About 65 ms per derivation on the 2-core target: slow for guessing, quick for an operator.
# Fixed by the format version rather than taken from the file: a garbled n could make scrypt
# allocate gigabytes (or, in cryptography 50, panic). Stronger parameters mean a new version.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
KDF = {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}


def write_carrier(
    path: Path,
    private_key: Ed25519PrivateKey,
    certificate: x509.Certificate,
    password: str,
) -> None:
    """Write atomically so a crash never leaves half a carrier where a good one was."""
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    raw_key = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    key = _derive(password, salt)
    document = {
        "format": FORMAT,
        "kdf": KDF | {"salt": _b64(salt)},
        "cipher": "aes-256-gcm",
        "nonce": _b64(nonce),
        "ciphertext": _b64(AESGCM(key).encrypt(nonce, raw_key, certificate_pem)),
        "certificate": certificate_pem.decode("ascii"),
    }
    write_private(path, json.dumps(document, indent=2).encode("ascii") + b"\n")


def read_carrier(path: Path, password: str) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """Tell a wrong password apart from a damaged file: custodians act differently on each."""
    try:
        content = path.read_bytes()
    except OSError as e:
        raise SealError("carrier_corrupt", f"cannot read carrier {path}: {e.strerror}") from None
    try:
        document = json.loads(content)
        if document["format"] != FORMAT:
            raise SealError(
                "carrier_corrupt", f"{path} is not a {FORMAT} carrier: {document['format']!r}"
            )
        if document["certificate"] is None:
            raise SealError("carrier_corrupt", f"{path} holds no seal certificate")
        # Parsed before decrypting so a garbled certificate reads as damage, not a bad password.
        certificate_pem = document["certificate"].encode("ascii")
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        kdf = document["kdf"]
        if {name: kdf[name] for name in KDF} != KDF:
            raise SealError("carrier_corrupt", f"{path} uses unsupported key derivation {kdf}")
        key = _derive(password, _unb64(kdf["salt"]))
        raw_key = AESGCM(key).decrypt(
            _unb64(document["nonce"]), _unb64(document["ciphertext"]), certificate_pem
        )
        return Ed25519PrivateKey.from_private_bytes(raw_key), certificate
    except InvalidTag:
        raise SealError(
            "carrier_bad_password",
            f"wrong password for carrier {path}, or its certificate was replaced",
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # a malformed document
        raise SealError("carrier_corrupt", f"carrier {path} is damaged: {e}") from None


def _derive(password: str, salt: bytes) -> bytes:
    scrypt = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return scrypt.derive(password.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict, so stray characters count as damage instead of being skipped."""
    return base64.b64decode(text, validate=True)
