"""Bounds on everything a unit writes (DESIGN.md §4): ids, texts, lists, counts, seal stamps.

Nothing a sender writes may cost the router more than linear work, or become a file name, an
AMQP property or an answer that other units' traffic then waits behind (a grant of 140 MB, a
delivery whose message id AMQP cannot carry). So every command is checked against these bounds
as soon as it is decoded, before the router looks anything up; each failure is a WireError
with its own reason code, naming the field and quoting at most the start of what it refuses.

The rules describe what a valid message is, whoever checks it, so they sit beside the wire
format rather than in the router; only the two bounds an exchange may need to move are
settings (`[exchange] max_recipients`, `max_print_quota`). README.md "Bad input" lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from docex import wire
from docex.config import ExchangeSettings
from docex.ids import ID_RULE, is_safe_id

# Characters. A 公文 title is rarely past 60, a 文号 past 20; the rest is room.
TITLE_MAX = 200
DOC_NO_MAX = 64
NAME_MAX = 64  # sealed_by, sent_by, an author
SHORT_MAX = 64  # format, times, deadline, period, part, issue, reader group
ATTACHMENT_MAX = 200  # the description of one paper attachment
REASON_MAX = 2_000  # why a document is returned, resent or needs more copies
CONTENT_MAX = 100_000  # an information item or a reply; it is copied to every recipient
# Lists that are not units (units are bounded by [exchange] max_recipients).
ITEMS_MAX = 100  # paper attachments, authors
# A seal stamp: the certificate's serial in hex, its DER (ours are under 1 KiB), an Ed25519
# signature.
SERIAL_MAX = 64
CERT_MAX = 4096
SIGNATURE_BYTES = 64

# Single-line texts refuse every control character (C0, DEL, C1) and the Unicode line and
# paragraph separators; multi-line ones allow tab, line feed and carriage return.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SERIAL = re.compile(rf"[0-9A-Fa-f]{{1,{SERIAL_MAX}}}")


def check_command(command: wire.Command, settings: ExchangeSettings) -> None:
    """Raise WireError for the first field of `command` out of bounds."""
    match command:
        case wire.Submit():
            check_envelope(command.envelope, settings)
        case wire.Receipt() | wire.StatusQuery() | wire.AttachmentsReceived():
            check_id("doc_id", command.doc_id)
        case wire.PrintRequest():
            check_id("doc_id", command.doc_id)
            check_copies("copies", command.copies, settings)
            if command.seal is not None:
                check_seal("seal", command.seal)
        case wire.Return() | wire.ResendRequest():
            check_id("doc_id", command.doc_id)
            check_text("reason", command.reason, REASON_MAX, multiline=True)
        case wire.Resend():
            check_id("doc_id", command.doc_id)
            check_id("recipient", command.recipient)
        case wire.QuotaRequest():
            check_id("doc_id", command.doc_id)
            check_copies("copies", command.copies, settings)
            check_text("reason", command.reason, REASON_MAX, multiline=True)
        case wire.QuotaGrant():
            check_id("doc_id", command.doc_id)
            check_id("recipient", command.recipient)
            check_copies("copies", command.copies, settings)
        case wire.Withdraw():
            check_id("doc_id", command.doc_id)
            check_units("recipients", command.recipients, settings)
        case wire.Info():
            check_info(command, settings)
        case wire.Reply():
            check_id("info_id", command.info_id)
            check_text("content", command.content, CONTENT_MAX, multiline=True)
        case wire.Adopt():
            check_id("info_id", command.info_id)
        case wire.Arrange():
            check_id("counterpart", command.counterpart)
            check_text("day", command.day, SHORT_MAX)
            check_text("until", command.until, SHORT_MAX)
            check_text("doc_no", command.doc_no, DOC_NO_MAX)
        case wire.ArrangeAnswer():
            check_id("arrangement", command.arrangement)
        case wire.Heartbeat() | wire.UnitsQuery():
            pass


def check_envelope(envelope: wire.Envelope, settings: ExchangeSettings) -> None:
    check_id("envelope.id", envelope.id)
    check_id("envelope.sender", envelope.sender)
    recipients = len(envelope.to) + len(envelope.cc)
    if recipients > settings.max_recipients:
        raise _too_many_recipients("envelope.to and envelope.cc", recipients, settings)
    check_units("envelope.to", envelope.to, settings)
    check_units("envelope.cc", envelope.cc, settings)
    check_units("envelope.print_quota", envelope.print_quota, settings)
    for unit, copies in envelope.print_quota.items():
        check_quota(f"envelope.print_quota[{unit}]", copies, settings)
    check_text("envelope.title", envelope.title, TITLE_MAX)
    check_text("envelope.doc_no", envelope.doc_no, DOC_NO_MAX)
    check_text("envelope.format", envelope.format, SHORT_MAX)
    check_text("envelope.created_at", envelope.created_at, SHORT_MAX)
    check_text("envelope.sealed_at", envelope.sealed_at, SHORT_MAX)
    check_text("envelope.sealed_by", envelope.sealed_by, NAME_MAX)
    check_text("envelope.sent_by", envelope.sent_by, NAME_MAX)
    check_items("envelope.paper_attachments", envelope.paper_attachments, ATTACHMENT_MAX)
    if envelope.seal is not None:
        check_seal("envelope.seal", envelope.seal)


def check_info(info: wire.Info, settings: ExchangeSettings) -> None:
    check_text("title", info.title, TITLE_MAX)
    check_text("content", info.content, CONTENT_MAX, multiline=True)
    for field in ("deadline", "period", "part", "issue", "reader_group"):
        check_text(field, getattr(info, field), SHORT_MAX)
    check_units("to", info.to, settings)
    check_units("readers", info.readers, settings)
    check_units("co_units", info.co_units, settings)
    check_items("authors", info.authors, NAME_MAX)


def check_id(field: str, value: str) -> None:
    if not is_safe_id(value):
        raise wire.WireError("invalid_id", f"{field}: {wire.quoted(value)} is not an id: {ID_RULE}")


def check_units(field: str, units: Collection[str], settings: ExchangeSettings) -> None:
    """A list of unit ids (a map's keys count as the list)."""
    if len(units) > settings.max_recipients:
        raise _too_many_recipients(field, len(units), settings)
    for index, unit in enumerate(units):
        check_id(f"{field}[{index}]", unit)


def check_text(field: str, value: str, limit: int, *, multiline: bool = False) -> None:
    if len(value) > limit:
        raise wire.WireError(
            "text_too_long", f"{field}: {len(value)} characters, the limit is {limit}"
        )
    control = (_NOT_TEXT if multiline else _NOT_ONE_LINE).search(value)
    if control:
        raise wire.WireError(
            "invalid_text",
            f"{field}: control character {control.group()!r} at position {control.start()}",
        )


def check_items(field: str, items: list[str], limit: int) -> None:
    """A list of short texts, such as the paper attachments or a piece's authors."""
    if len(items) > ITEMS_MAX:
        raise wire.WireError(
            "too_many_items", f"{field}: {len(items)} items, the limit is {ITEMS_MAX}"
        )
    for index, item in enumerate(items):
        check_text(f"{field}[{index}]", item, limit)


def check_quota(field: str, copies: int, settings: ExchangeSettings) -> None:
    """A print quota the sender sets (§31): none at all is a quota too."""
    if copies < 0:
        raise wire.WireError("invalid_quota", f"{field}: {copies} copies; it cannot be negative")
    if copies > settings.max_print_quota:
        raise _quota_too_large(field, copies, settings)


def check_copies(field: str, copies: int, settings: ExchangeSettings) -> None:
    """Copies asked for or granted (§35, §38): at least one, at most a whole quota."""
    if not 1 <= copies <= settings.max_print_quota:
        raise wire.WireError(
            "invalid_copies",
            f"{field}: {copies} copies; it takes 1 to {settings.max_print_quota}"
            " ([exchange] max_print_quota)",
        )


def check_total_quota(field: str, copies: int, settings: ExchangeSettings) -> None:
    """A quota after a grant (§38) stays within what a sender could have set at once."""
    if copies > settings.max_print_quota:
        raise _quota_too_large(field, copies, settings)


def check_seal(field: str, stamp: wire.SealStamp) -> None:
    if not _SERIAL.fullmatch(stamp.serial):
        raise wire.WireError(
            "invalid_seal",
            f"{field}.serial: {wire.quoted(stamp.serial)} is not a serial"
            f" (1–{SERIAL_MAX} hex digits)",
        )
    if len(stamp.cert) > CERT_MAX:
        raise wire.WireError(
            "invalid_seal", f"{field}.cert: {len(stamp.cert)} bytes, the limit is {CERT_MAX}"
        )
    if len(stamp.sig) != SIGNATURE_BYTES:
        raise wire.WireError(
            "invalid_seal",
            f"{field}.sig: {len(stamp.sig)} bytes; an Ed25519 signature is {SIGNATURE_BYTES}",
        )


def _too_many_recipients(field: str, count: int, settings: ExchangeSettings) -> wire.WireError:
    return wire.WireError(
        "too_many_recipients",
        f"{field}: {count} units, the limit is {settings.max_recipients}"
        " ([exchange] max_recipients)",
    )


def _quota_too_large(field: str, copies: int, settings: ExchangeSettings) -> wire.WireError:
    return wire.WireError(
        "quota_too_large",
        f"{field}: {copies} copies, the limit is {settings.max_print_quota}"
        " ([exchange] max_print_quota)",
    )
