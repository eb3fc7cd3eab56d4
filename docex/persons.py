"""Persons and roles (§13–§15): who in a unit acts, with what duties, under which credential.

The exchange keeps the register (the §13 filing) in its ledger; a unit's administrator adds,
disables and resets people with `docex users`. Each person holds a personal credential: an
Ed25519 key in a password-protected file like a seal's carrier. The exchange knows the
person by the credential's public key, which the register holds: the register itself is the
binding of key to unit and person, so no certificate (and no CA ceremony) is needed to issue
one, and a reset replaces the key in the register, which revokes the old one at once.

A credential is issued with an initial password that the client refuses to use until its
owner has changed it (§15, `docex users passwd`). The file binds its identity and that flag
as associated data, so neither can be edited without the password.

Every command a person sends carries three AMQP headers: who acts, the id of their key, and
their signature over the unit, the person, the command's message id and the hash of its body.
A unit with nobody registered acts as a whole, as before; once it has people, every command
must name one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from docex.i18n import _
from docex.seals.carrier import KDF, SCRYPT_N, SCRYPT_P, SCRYPT_R
from docex.seals.errors import SealError
from docex.seals.files import write_private
from docex.seals.signature import holds as signature_holds

# The roles of §13, by duty; the register and the CLI take either name.
ROLES: dict[str, str] = {
    "send": "发文",  # send, withdraw, resend, grant extra copies
    "receive": "收文",  # receive and read, return, ask for a resend or more copies
    "print": "打印",  # print with the verification seal (§35)
    "info": "信息",  # information items (§39–§45)
    "admin": "管理",  # manage the unit's people
}
_BY_CHINESE = {chinese: role for role, chinese in ROLES.items()}

# The role each command needs. A status or units query, about what the unit may see anyway,
# needs none; a heartbeat is the system's, not a person's.
COMMAND_ROLES: dict[str, str] = {
    "submit": "send",
    "withdraw": "send",
    "resend": "send",
    "quota_grant": "send",
    "receipt": "receive",
    "return": "receive",
    "resend_request": "receive",
    "quota_request": "receive",
    "attachments_received": "receive",
    "print_request": "print",
    "info": "info",
    "reply": "info",
    "adopt": "info",
}

PERSON_HEADER = "x-docex-person"
KEY_HEADER = "x-docex-key"
SIGNATURE_HEADER = "x-docex-sig"

# Where the client takes the credential's password from when no file is named.
PASSWORD_ENV = "DOCEX_PERSON_PASSWORD"
FORMAT = "docex-person/1"


class RoleError(ValueError):
    pass


def parse_roles(text: str) -> list[str]:
    """ "发文,收文" or "send,receive" (mixed is fine) as the register's role names, in order."""
    roles: list[str] = []
    for part in (p.strip() for p in text.replace("，", ",").split(",")):
        if not part:
            continue
        role = _BY_CHINESE.get(part, part)
        if role not in ROLES:
            known = ", ".join(f"{r} ({c})" for r, c in ROLES.items())
            raise RoleError(
                _("unknown role {role!r}; known: {known}").format(role=part, known=known)
            )
        if role not in roles:
            roles.append(role)
    return roles


def shown_roles(roles: list[str]) -> str:
    return ",".join(ROLES.get(role, role) for role in roles)


def key_id(public_key: Ed25519PublicKey) -> str:
    """How commands and the register name a credential: a hash of its public key."""
    return hashlib.sha256(public_bytes(public_key)).hexdigest()[:32]


def public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


_canonical = msgspec.msgpack.Encoder(order="sorted")


def signing_bytes(unit: str, person: str, key: str, message_id: str, body: bytes) -> bytes:
    """What a person signs for a command: replayed under another id, unit, person or body, the
    signature no longer holds."""
    return _canonical.encode(
        {
            "t": "person",
            "unit": unit,
            "person": person,
            "key": key,
            "message_id": message_id,
            "body_sha256": hashlib.sha256(body).digest(),
        }
    )


def verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    return signature_holds(public_key, signature, data)


def initial_password() -> str:
    """Twelve characters an administrator can read out or write down for its owner."""
    return secrets.token_urlsafe(9)


@dataclass(frozen=True)
class Credential:
    """An opened personal credential: signs the commands its person sends."""

    unit: str
    person: str
    key: str
    initial: bool
    _private_key: Ed25519PrivateKey

    def headers(self, message_id: str, body: bytes) -> dict[str, str]:
        """Text headers only: AMQP hands a binary long string back as text when it happens
        to be valid UTF-8, so the signature travels as hex."""
        data = signing_bytes(self.unit, self.person, self.key, message_id, body)
        return {
            PERSON_HEADER: self.person,
            KEY_HEADER: self.key,
            SIGNATURE_HEADER: self._private_key.sign(data).hex(),
        }


def new_credential(path: Path, unit: str, person: str, password: str) -> tuple[str, bytes]:
    """A fresh key in a new credential file under an initial password; returns the key's id
    and public key, for the register."""
    private_key = Ed25519PrivateKey.generate()
    _write(path, private_key, unit, person, password, initial=True)
    public_key = private_key.public_key()
    return key_id(public_key), public_bytes(public_key)


def open_credential(path: Path, password: str) -> Credential:
    try:
        document = json.loads(path.read_bytes())
        if document.get("format") != FORMAT:
            raise SealError("credential_corrupt", f"{path} is not a {FORMAT} credential")
        identity = document["identity"]
        kdf = document["kdf"]
        if {name: kdf[name] for name in KDF} != KDF:
            raise SealError("credential_corrupt", f"{path} uses unsupported key derivation")
        aad = _aad(identity)
        key = _derive(password, _unb64(kdf["salt"]))
        raw = AESGCM(key).decrypt(_unb64(document["nonce"]), _unb64(document["ciphertext"]), aad)
        private_key = Ed25519PrivateKey.from_private_bytes(raw)
    except OSError as e:
        raise SealError("credential_corrupt", f"cannot read credential {path}: {e}") from None
    except InvalidTag:
        raise SealError(
            "credential_bad_password", f"wrong password for credential {path}"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SealError("credential_corrupt", f"credential {path} is damaged: {e}") from None
    credential = Credential(
        unit=str(identity["unit"]),
        person=str(identity["person"]),
        key=key_id(private_key.public_key()),
        initial=bool(identity["initial"]),
        _private_key=private_key,
    )
    return credential


def open_for_use(path: Path, password: str, unit: str) -> Credential:
    """What a client signs with: refused while it still has its initial password (§15), or
    when it is another unit's."""
    credential = open_credential(path, password)
    if credential.initial:
        raise SealError(
            "credential_initial_password",
            f"{credential.person}'s credential {path} still has its initial password; change"
            f" it first: docex users passwd {path} (§15)",
        )
    if credential.unit != unit:
        raise SealError(
            "credential_wrong_unit",
            f"credential {path} is for unit {credential.unit!r}, not {unit!r}",
        )
    return credential


def password_from(file: str) -> str:
    """A credential's password: the first line of `file`, or else DOCEX_PERSON_PASSWORD."""
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as e:
            raise SealError("credential_password_missing", f"cannot read {file}: {e}") from None
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise SealError(
            "credential_password_missing",
            f"set {PASSWORD_ENV} or person_password_file to open the personal credential",
        )
    return password


def change_password(path: Path, old: str, new: str) -> Credential:
    """§15: the owner's own password replaces the initial one; the key stays the same."""
    if not new or new == old:
        raise SealError("credential_password_unchanged", "choose a new password")
    credential = open_credential(path, old)
    _write(path, credential._private_key, credential.unit, credential.person, new, initial=False)
    return open_credential(path, new)


def _write(
    path: Path,
    private_key: Ed25519PrivateKey,
    unit: str,
    person: str,
    password: str,
    *,
    initial: bool,
) -> None:
    identity = {"unit": unit, "person": person, "initial": initial}
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    document = {
        "format": FORMAT,
        "identity": identity,
        "public_key": _b64(public_bytes(private_key.public_key())),
        "kdf": KDF | {"salt": _b64(salt)},
        "cipher": "aes-256-gcm",
        "nonce": _b64(nonce),
        "ciphertext": _b64(AESGCM(_derive(password, salt)).encrypt(nonce, raw, _aad(identity))),
    }
    write_private(path, json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n")


def _aad(identity: dict[str, object]) -> bytes:
    return json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()


def _derive(password: str, salt: bytes) -> bytes:
    scrypt = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return scrypt.derive(password.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
