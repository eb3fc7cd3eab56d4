"""Split custody of the CA key (§22, §23): no single person can use it.

`docex seal ca-init` splits the CA's Ed25519 private key with SLIP-39 (the shamir-mnemonic
library) into one share per custodian role, any `threshold` of which rebuild it; fewer tell
nothing about it. A share is a list of words with a checksum, so a custodian may keep it on
paper as well as in its file. A ceremony rebuilds the key in memory from the shares presented
and closes the CA when it is done.

custody.toml in the CA directory says who holds which share, how many rebuild the key and
which custodians must attend every ceremony. Its SHA-256 is in the CA-signed first record of
the ceremony log, so a quiet edit (dropping a required role, say) stops every ceremony.

Wiping is best effort, as Python allows: the bytearrays this module holds the key in are
zeroed, but shamir-mnemonic returns the rebuilt key as immutable bytes, and the share words
are Python strings; neither can be overwritten, and they stay in memory until it is reused.
Hold ceremonies on a machine kept for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import msgspec
import shamir_mnemonic
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from docex.seals.ca import CertificateAuthority
from docex.seals.certificate import fingerprint
from docex.seals.errors import SealError
from docex.seals.files import write_private, write_public

CUSTODY_FILE = "custody.toml"
PENDING_CUSTODY_FILE = "custody.toml.next"
SHARE_SUFFIX = ".share"
MAX_CUSTODIANS = 16  # SLIP-39 makes at most 16 shares in a group
_ROLE = re.compile(r"[a-z][a-z0-9-]{0,31}")


class Custodian(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    role: str
    title: str
    # Must attend every ceremony (§23), rather than only hold a share toward the threshold.
    required: bool = True
    # The SLIP-39 member index of this custodian's share, set when the key is split.
    share: int = 0


class Custody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    threshold: int
    custodians: tuple[Custodian, ...]
    # The SLIP-39 identifier of the split: a share from another split carries another one.
    identifier: int = 0

    def custodian(self, role: str) -> Custodian | None:
        return next((c for c in self.custodians if c.role == role), None)


# §23 names the two parties of the General Office who must attend (with the owning unit).
DEFAULT_CUSTODY = Custody(
    threshold=2,
    custodians=(
        Custodian(role="secrecy-office", title="市府办公厅秘书处保密室"),
        Custodian(role="info-centre", title="市府办公厅政务信息中心"),
    ),
)


def check_policy(custody: Custody) -> None:
    """Refuse a policy under which one person could use the key, or SLIP-39 cannot split."""
    roles = [c.role for c in custody.custodians]
    for role in roles:
        if not _ROLE.fullmatch(role):
            raise SealError(
                "custody_invalid",
                f"custodian role {role!r} must be lowercase letters, digits and '-', "
                "starting with a letter, at most 32 characters",
            )
    if len(set(roles)) != len(roles):
        raise SealError("custody_invalid", f"custodian roles repeat: {', '.join(roles)}")
    if not 2 <= len(roles) <= MAX_CUSTODIANS:
        raise SealError(
            "custody_invalid", f"there must be 2 to {MAX_CUSTODIANS} custodians, not {len(roles)}"
        )
    if not 2 <= custody.threshold <= len(roles):
        raise SealError(
            "custody_invalid",
            f"the threshold must be 2 to {len(roles)} shares (no single person may use the "
            f"CA key), not {custody.threshold}",
        )


def split_key(ca: CertificateAuthority, custody: Custody) -> tuple[Custody, dict[str, str]]:
    """Return the policy with its SLIP-39 identifier and share indexes, and each role's share."""
    check_policy(custody)
    secret = ca.private_key_bytes()
    try:
        [words] = shamir_mnemonic.generate_mnemonics(
            1, [(custody.threshold, len(custody.custodians))], secret
        )
    finally:
        secret[:] = bytes(len(secret))
    identifier = shamir_mnemonic.Share.from_mnemonic(words[0]).identifier
    custodians = tuple(
        msgspec.structs.replace(c, share=index) for index, c in enumerate(custody.custodians)
    )
    shares = {c.role: words[c.share] for c in custodians}
    return msgspec.structs.replace(custody, custodians=custodians, identifier=identifier), shares


def share_path(directory: Path, role: str) -> Path:
    return directory / f"{role}{SHARE_SUFFIX}"


def write_share_file(
    path: Path, custodian: Custodian, custody: Custody, ca_certificate: x509.Certificate, words: str
) -> None:
    """A share file says whose it is and for which CA, so a custodian can tell them apart."""
    name = ca_certificate.subject.rfc4514_string()
    header = (
        f"# docex CA key share (SLIP-39) of custodian {custodian.role}: {custodian.title}\n"
        f"# CA {name}, certificate SHA-256 {fingerprint(ca_certificate)}\n"
        f"# Any {custody.threshold} of the {len(custody.custodians)} custodians' shares rebuild "
        "the CA key. Keep this apart from the others.\n"
    )
    write_private(path, (header + words + "\n").encode("utf-8"))


def read_share_file(path: Path) -> str:
    """The share's words, without the comment lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SealError(
            "share_unreadable", f"cannot read share file {path}: {e.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise SealError("share_unreadable", f"share file {path} is not UTF-8 text") from None
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return " ".join(" ".join(lines).split())


def rebuild_ca(
    certificate: x509.Certificate, custody: Custody, shares: Mapping[str, str]
) -> CertificateAuthority:
    """Open the CA from the shares presented, role by role; any doubt about one stops it."""
    indexes: dict[int, str] = {}
    for role, words in shares.items():
        custodian = custody.custodian(role)
        if custodian is None:
            raise SealError("custodian_unknown", f"no custodian role {role!r} in {CUSTODY_FILE}")
        share = _decode(role, words)
        if share.identifier != custody.identifier:
            raise SealError(
                "share_foreign",
                f"the share given for {role} belongs to another CA (or another split of its key)",
            )
        if share.index in indexes:
            raise SealError(
                "share_duplicate",
                f"the shares given for {indexes[share.index]} and {role} are the same share",
            )
        indexes[share.index] = role
        if share.index != custodian.share:
            raise SealError(
                "share_wrong_role", f"the share given for {role} is another custodian's share"
            )
    if len(shares) < custody.threshold:
        raise SealError(
            "shares_insufficient",
            f"{custody.threshold} custodians' shares rebuild the CA key; {len(shares)} given",
        )
    # SLIP-39 takes exactly `threshold` shares: more present (a backup holder came too) is
    # fine, and any of them will do, all having been checked above.
    return _open(certificate, list(shares.values())[: custody.threshold])


def save_custody(directory: Path, custody: Custody, *, pending: bool = False) -> str:
    """Write custody.toml (or, `pending`, custody.toml.next, which `load_custody` puts in its
    place once the log vouches for it); return its SHA-256, for the log to vouch for."""
    lines = [
        "# Who holds a share of the exchange CA key (§22, §23); written by `docex seal ca-init`",
        "# and `ca-reshare`. Its SHA-256 is in the CA-signed record of the ceremony that wrote",
        "# it (ceremonies.jsonl): an edit stops every ceremony. `required` custodians must",
        "# attend each ceremony, with the owning unit.",
        f"threshold = {custody.threshold}",
        f"identifier = {custody.identifier}  # SLIP-39 identifier of this split",
    ]
    for c in custody.custodians:
        lines += [
            "",
            "[[custodians]]",
            f"role = {_toml_string(c.role)}",
            f"title = {_toml_string(c.title)}",
            f"required = {'true' if c.required else 'false'}",
            f"share = {c.share}",
        ]
    content = ("\n".join(lines) + "\n").encode("utf-8")
    write_public(directory / (PENDING_CUSTODY_FILE if pending else CUSTODY_FILE), content)
    return hashlib.sha256(content).hexdigest()


def load_custody(directory: Path, expected_sha256: str) -> Custody:
    """The policy the CA vouched for last; a reshare cut short after its record was written
    is finished here, by moving its pending policy into place."""
    path = directory / CUSTODY_FILE
    pending = directory / PENDING_CUSTODY_FILE
    content = _read(path)
    if _sha256(content) != expected_sha256 and pending.exists():
        if _sha256(_read(pending)) == expected_sha256:
            os.replace(pending, path)
            content = _read(path)
    if _sha256(content) != expected_sha256:
        raise SealError("custody_untrusted", f"{path} is not the custody policy the CA signed last")
    return msgspec.convert(tomllib.loads(content.decode("utf-8")), Custody)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SealError("custody_missing", f"cannot read {path}: {e.strerror}") from None


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class _Share(msgspec.Struct, frozen=True):
    identifier: int
    index: int


def _decode(role: str, words: str) -> _Share:
    try:
        share = shamir_mnemonic.Share.from_mnemonic(words)
    except shamir_mnemonic.MnemonicError as e:
        raise SealError("share_invalid", f"the share given for {role} is not valid: {e}") from None
    return _Share(share.identifier, share.index)


def _open(certificate: x509.Certificate, mnemonics: list[str]) -> CertificateAuthority:
    try:
        secret = bytearray(shamir_mnemonic.combine_mnemonics(mnemonics))
    except shamir_mnemonic.MnemonicError as e:
        raise SealError("share_foreign", f"the shares do not fit together: {e}") from None
    try:
        private_key = Ed25519PrivateKey.from_private_bytes(secret)
    finally:
        secret[:] = bytes(len(secret))
    if private_key.public_key() != certificate.public_key():
        raise SealError("share_foreign", "the shares rebuild a key that is not this CA's")
    return CertificateAuthority(certificate, private_key)


def _toml_string(value: str) -> str:
    """JSON's string escapes are all valid in a TOML basic string."""
    return json.dumps(value, ensure_ascii=False)
