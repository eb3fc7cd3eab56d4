"""How a seal certificate names its unit and kind.

The subject carries the unit id (USER_ID, what routing and the ledger key on), the unit's
display name (COMMON_NAME, for people) and the seal kind (ORGANIZATIONAL_UNIT_NAME), so one
certificate answers "whose seal, and which one" without any lookup.
"""

from cryptography import x509
from cryptography.x509.oid import NameOID

from seals.errors import SealError
from seals.kinds import SealKind


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
