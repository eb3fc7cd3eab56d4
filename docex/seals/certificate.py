"""How a seal certificate names its unit and kind.

The subject carries the unit id (USER_ID, what routing and the ledger key on), the unit's
display name (COMMON_NAME, for people) and the seal kind (ORGANIZATIONAL_UNIT_NAME), so one
certificate answers "whose seal, and which one" without any lookup.

A certificate may also carry the seal's visible image (the PNG the unit registered, §19), so a
recipient can show the stamp it verified without asking anyone. It sits in a non-critical
private extension: other X.509 software ignores it.
"""

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier

from docex.seals.errors import SealError
from docex.seals.kinds import SealKind

# docex's private OID arc. An OID made from a UUID (ITU-T X.667, arc 2.25) needs no
# registration; this one is UUID 29a2971f-4404-4c14-9194-9924d9862331, drawn once for docex.
# Sub-arcs: .1 the seal image, `SealImage ::= OCTET STRING` holding a PNG file.
DOCEX_ARC = "2.25.55342565039237557859714191884445688625"
SEAL_IMAGE_OID = ObjectIdentifier(f"{DOCEX_ARC}.1")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Every envelope carries its seal's certificate, so the image travels with every document.
MAX_SEAL_IMAGE_BYTES = 64 * 1024


def seal_subject(unit_id: str, unit_name: str, kind: SealKind) -> x509.Name:
    """Kept beside seal_identity so writing and reading the naming stay in step."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, unit_id),
            x509.NameAttribute(NameOID.COMMON_NAME, unit_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind.value),
        ]
    )


def seal_identity(cert: x509.Certificate) -> tuple[str, SealKind]:
    """Return (unit id, kind); a certificate that does not name both is no seal of ours."""
    unit_ids = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    kinds = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if len(unit_ids) != 1 or len(kinds) != 1:
        raise SealError(
            "seal_untrusted",
            f"certificate {serial_hex(cert)} does not name exactly one unit id and seal kind",
        )
    try:
        kind = SealKind(str(kinds[0].value))
    except ValueError:
        raise SealError(
            "seal_untrusted",
            f"certificate {serial_hex(cert)} names unknown seal kind {kinds[0].value!r}",
        ) from None
    return str(unit_ids[0].value), kind


def serial_hex(cert: x509.Certificate) -> str:
    """The serial as envelopes and revocation lists write it: lowercase hex, no separators."""
    return format(cert.serial_number, "x")


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex: how files name the CA they belong to."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def check_seal_image(image: bytes) -> None:
    """Refuse before a ceremony starts, not after the custodians have given their shares."""
    if not image.startswith(PNG_SIGNATURE):
        raise SealError("seal_image_invalid", "the seal image is not a PNG file")
    if len(image) > MAX_SEAL_IMAGE_BYTES:
        raise SealError(
            "seal_image_invalid",
            f"the seal image is {len(image)} bytes; at most {MAX_SEAL_IMAGE_BYTES} are allowed",
        )


def seal_image_extension(image: bytes) -> x509.UnrecognizedExtension:
    check_seal_image(image)
    return x509.UnrecognizedExtension(SEAL_IMAGE_OID, _der_octet_string(image))


def seal_image(cert: x509.Certificate) -> bytes | None:
    """The PNG the unit registered for this seal, or None when it registered none."""
    try:
        extension = cert.extensions.get_extension_for_oid(SEAL_IMAGE_OID)
    except x509.ExtensionNotFound:
        return None
    value = extension.value
    assert isinstance(value, x509.UnrecognizedExtension)
    return _der_octet_string_content(value.value, serial_hex(cert))


def _der_octet_string(content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([0x04, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(length)]) + length + content


def _der_octet_string_content(der: bytes, serial: str) -> bytes:
    damaged = SealError("seal_untrusted", f"certificate {serial} carries a damaged seal image")
    if len(der) < 2 or der[0] != 0x04:
        raise damaged
    if der[1] < 0x80:
        start, size = 2, der[1]
    else:
        start = 2 + (der[1] & 0x7F)
        size = int.from_bytes(der[2:start], "big")
    if start + size != len(der):
        raise damaged
    return der[start:]
