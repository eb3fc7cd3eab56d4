"""What a submitted document must satisfy before the exchange accepts it.

Each failed check has its own reason code, so a unit's integrator can tell from the answer
alone what to fix. The seal is judged at the router's clock, never at a time the sender claims.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from docex import formats
from docex.config import Config, Unit
from docex.core.rejection import Rejection
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.verify import SealVerifier
from docex.wire import Classification, Envelope, Urgency, content_digest, signing_bytes

_EXCLUDED_CLASSIFICATIONS = {"secret", "confidential", "top_secret"}


def check_submission(
    envelope: Envelope, sender: Unit, config: Config, verifier: SealVerifier, now: datetime
) -> None:
    _check_sender(envelope, sender)
    _check_exclusions(envelope)
    _check_content(envelope, config)
    _check_recipients(envelope, config)
    check_envelope_seal(envelope, verifier, now)


def _check_sender(envelope: Envelope, sender: Unit) -> None:
    if envelope.sender != sender.id:
        raise Rejection(
            "sender_mismatch",
            f"envelope names sender {envelope.sender!r} but it came from unit {sender.id!r}",
        )


def _check_exclusions(envelope: Envelope) -> None:
    check_exclusions(envelope.classification, envelope.urgency, envelope.private, what="documents")


def check_exclusions(
    classification: Classification, urgency: Urgency, private: bool, *, what: str
) -> None:
    """§4: classified, urgent and private items never go through the exchange, documents
    and information alike (§4 says 文件、信息), with the same reason codes."""
    if classification in _EXCLUDED_CLASSIFICATIONS:
        raise Rejection(
            "excluded_classification",
            f"{classification} {what} are not exchanged electronically (§4)",
        )
    if urgency != "normal":
        raise Rejection(
            "excluded_urgency", f"{urgency} {what} are not exchanged electronically (§4)"
        )
    if private:
        raise Rejection("excluded_private", f"private {what} are not exchanged (§4)")


def _check_content(envelope: Envelope, config: Config) -> None:
    limit = config.router.max_document_bytes
    if len(envelope.content) > limit:
        raise Rejection(
            "too_large", f"document body is {len(envelope.content)} bytes, the limit is {limit}"
        )
    allowed = config.router.allowed_formats
    if envelope.format not in allowed:
        raise Rejection(
            "format_not_allowed",
            f"format {envelope.format!r} is not accepted (allowed: {', '.join(allowed)})",
        )
    if not formats.matches(envelope.format, envelope.content, config.formats):
        raise Rejection(
            "format_mismatch", f"the document body is not a {envelope.format.upper()} file"
        )
    if content_digest(envelope.content) != envelope.sha256:
        raise Rejection(
            "content_hash_mismatch", "the body does not match the SHA-256 sealed in the envelope"
        )


def _check_recipients(envelope: Envelope, config: Config) -> None:
    """§31: main and copy recipients, each registered and active, each with a print quota.
    Linear in the recipients: a circular goes to thousands of units."""
    if not envelope.to:
        raise Rejection("no_recipients", "a document needs at least one main (主送) recipient")
    recipients = [unit for unit, _ in envelope.recipients()]
    duplicates = sorted(unit for unit, count in Counter(recipients).items() if count > 1)
    if duplicates:
        raise Rejection("duplicate_recipient", f"listed more than once: {', '.join(duplicates)}")
    registered = config.units_by_id()
    for unit_id in recipients:
        if unit_id == envelope.sender:
            raise Rejection("self_send", "a unit cannot send a document to itself")
        unit = registered.get(unit_id)
        if unit is None:
            raise Rejection("unknown_recipient", f"no unit {unit_id!r} is registered")
        if unit.status != "active":
            raise Rejection("recipient_revoked", f"unit {unit_id!r} is {unit.status}")
    listed = set(recipients)
    for unit_id in envelope.print_quota:
        if unit_id not in listed:
            raise Rejection("invalid_quota", f"print quota for {unit_id!r}, who is no recipient")


def check_envelope_seal(envelope: Envelope, verifier: SealVerifier, at: datetime) -> None:
    """The sender's signing seal holds over the envelope's headers (§18), as of `at`: the
    router's clock when it accepts, the acceptance time when a recipient checks it again."""
    stamp = envelope.seal
    if stamp is None:
        raise Rejection("unsealed", "the document carries no signing seal (§18)")
    try:
        certificate = verifier.verify(
            stamp.cert,
            signing_bytes(envelope),
            stamp.sig,
            unit_id=envelope.sender,
            kind=SealKind.SIGNING,
            at=at,
        )
    except SealError as exc:
        raise Rejection(exc.code, exc.message) from exc
    if format(certificate.serial_number, "x") != stamp.serial.lower():
        raise Rejection("seal_serial_mismatch", "the seal's serial is not its certificate's")
