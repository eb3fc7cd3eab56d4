"""Messages exchanged between units and the router (DESIGN.md §4), version 1.

Every message is a MessagePack map with `v` (wire version) and `t` (type). Decoding is strict:
an unknown version, a missing or mistyped field, or an unknown field is a specific error that
the router can send back to the unit that sent it.
"""

from __future__ import annotations

import hashlib
from typing import Literal, get_args

import msgspec

VERSION = 1
CONTENT_TYPE = "application/msgpack"

Classification = Literal["public", "internal", "secret", "confidential", "top_secret"]
Urgency = Literal["normal", "urgent", "extra_urgent"]
Role = Literal["main", "copy"]
ReceiptKind = Literal["read", "downloaded"]


class WireError(Exception):
    """A message that cannot be taken as it is; `code` is the reason sent back to its sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# How much of a value an error message quotes: enough to recognise it, never all of a huge one.
QUOTE_MAX = 64


def quoted(value: str) -> str:
    """`value` as an answer quotes it back to its sender, cut to its first characters."""
    return repr(value if len(value) <= QUOTE_MAX else value[:QUOTE_MAX] + "…")


class SealStamp(msgspec.Struct, forbid_unknown_fields=True):
    """The electronic seal on an envelope: who sealed it and the signature over its headers."""

    serial: str
    alg: Literal["ed25519"]
    cert: bytes
    sig: bytes


class Envelope(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A sealed official document (公文) as the sending unit made it (§27–§31)."""

    id: str
    sender: str
    to: list[str]
    cc: list[str] = []
    print_quota: dict[str, int] = {}
    title: str
    doc_no: str
    classification: Classification = "public"
    urgency: Urgency = "normal"
    private: bool = False
    format: str
    content: bytes
    sha256: bytes
    paper_attachments: list[str] = []
    created_at: str
    sealed_at: str
    sealed_by: str
    sent_by: str = ""
    seal: SealStamp | None = None

    def recipients(self) -> list[tuple[str, Role]]:
        return [(unit, "main") for unit in self.to] + [(unit, "copy") for unit in self.cc]


def listed(ids: list[str]) -> list[str] | msgspec.UnsetType:
    """A list for a field added since version 1: left out of the message when empty."""
    return ids if ids else msgspec.UNSET


def content_digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


_canonical = msgspec.msgpack.Encoder(order="sorted")


def signing_bytes(envelope: Envelope) -> bytes:
    """What the seal signs: every header field and the content hash, never the content itself.

    Sorted-key MessagePack makes the encoding canonical, so the router and every recipient
    recompute exactly the bytes the sender signed. `sent_by` is left out: sending is a separate
    step from sealing (§29) and may be done by another person after the seal is applied.
    """
    headers = msgspec.structs.asdict(envelope)
    del headers["content"], headers["seal"], headers["sent_by"]
    return _canonical.encode(headers)


class Submit(msgspec.Struct, tag_field="t", tag="submit", forbid_unknown_fields=True):
    v: int
    envelope: Envelope


class Receipt(msgspec.Struct, tag_field="t", tag="receipt", forbid_unknown_fields=True):
    """Tells the router a delivered document was taken in (§37): the first one sets receipt time."""

    v: int
    doc_id: str
    kind: ReceiptKind


class StatusQuery(msgspec.Struct, tag_field="t", tag="status_query", forbid_unknown_fields=True):
    v: int
    doc_id: str


class PrintRequest(
    msgspec.Struct, tag_field="t", tag="print_request", forbid_unknown_fields=True, kw_only=True
):
    """Asks to print copies (§35); only a holder of the unit's verification seal may ask."""

    v: int
    doc_id: str
    copies: int
    seal: SealStamp | None = None


class UnitsQuery(msgspec.Struct, tag_field="t", tag="units_query", forbid_unknown_fields=True):
    """Asks who is on the exchange, so a clerk can address units by id and see their names."""

    v: int


def print_request_bytes(request: PrintRequest, unit: str, message_id: str) -> bytes:
    """What the verification seal signs: the request, who asks, and this command's id, so a
    signed request cannot be replayed under another id or by another unit."""
    return _canonical.encode(
        {
            "t": "print_request",
            "doc_id": request.doc_id,
            "copies": request.copies,
            "unit": unit,
            "message_id": message_id,
        }
    )


class Return(msgspec.Struct, tag_field="t", tag="return", forbid_unknown_fields=True):
    """The recipient found the document wrong and sends it back (退回, §34)."""

    v: int
    doc_id: str
    reason: str


class ResendRequest(
    msgspec.Struct, tag_field="t", tag="resend_request", forbid_unknown_fields=True
):
    """Printing, downloading or reading failed; the recipient asks for it again (§38)."""

    v: int
    doc_id: str
    reason: str


class Resend(msgspec.Struct, tag_field="t", tag="resend", forbid_unknown_fields=True):
    """The sender has the stored document delivered to a recipient again (§38)."""

    v: int
    doc_id: str
    recipient: str


class QuotaRequest(msgspec.Struct, tag_field="t", tag="quota_request", forbid_unknown_fields=True):
    """The recipient asks the sender for extra print copies (追加打印份数, §38)."""

    v: int
    doc_id: str
    copies: int
    reason: str


class QuotaGrant(msgspec.Struct, tag_field="t", tag="quota_grant", forbid_unknown_fields=True):
    v: int
    doc_id: str
    recipient: str
    copies: int


class Withdraw(msgspec.Struct, tag_field="t", tag="withdraw", forbid_unknown_fields=True):
    """The sender withdraws (撤回) a document from recipients who have not received it;
    no recipients named means all of them."""

    v: int
    doc_id: str
    recipients: list[str] = []


class AttachmentsReceived(
    msgspec.Struct, tag_field="t", tag="attachments_received", forbid_unknown_fields=True
):
    """The paper attachments (§28) arrived at the recipient."""

    v: int
    doc_id: str


class Heartbeat(msgspec.Struct, tag_field="t", tag="heartbeat", forbid_unknown_fields=True):
    """A unit's system is alive (§46). The one command the router does not answer: an answer
    every few seconds would fill the unit's queue, and silence is what the router listens for.
    It is not recorded as a command either, only as the unit's last sign of life."""

    v: int


# 工作动态 (§41), 请求办理事项 (§42), 专题报告 (§43), 政务信息 (§44), 刊物 (§45).
INFO_KINDS = ("update", "request", "report", "gov_info", "periodical")
# §41: last period's summary (总结, 完成情况) and this period's plan (计划, 安排), filed separately.
UPDATE_PARTS = ("summary", "plan")


class Info(msgspec.Struct, tag_field="t", tag="info", forbid_unknown_fields=True, kw_only=True):
    """An information item (§39): no seal, "who sends it answers for it" (§40).

    `kind` is a plain string so an unknown one gets its own reason code (`unknown_info_kind`)
    rather than a generic decoding error; each kind reads only the fields it needs:
    update: period ("2026" for the annual filing, "2026-03" for March's) and part;
    request: to, deadline (optional, ISO 8601 with offset); report: to;
    gov_info: co_units, authors, revision (修改稿), solicited (约稿); periodical: readers
    and/or reader_group, issue. Every kind carries the §4 flags.
    """

    v: int
    kind: str
    title: str
    content: str = ""
    to: list[str] = []
    deadline: str = ""
    period: str = ""
    part: str = ""
    co_units: list[str] = []
    authors: list[str] = []
    revision: bool = False
    solicited: bool = False
    readers: list[str] = []
    reader_group: str = ""
    issue: str = ""
    # §4 holds for information as for documents: the router refuses what is classified
    # secret or higher, urgent or extra urgent, or private.
    classification: Classification = "public"
    urgency: Urgency = "normal"
    private: bool = False


class Reply(msgspec.Struct, tag_field="t", tag="reply", forbid_unknown_fields=True, kw_only=True):
    """The handling unit answers a request (§42), or, with `delay`, explains before the
    deadline why it cannot finish in time."""

    v: int
    info_id: str
    content: str
    delay: bool = False


class Adopt(msgspec.Struct, tag_field="t", tag="adopt", forbid_unknown_fields=True):
    """The General Office adopted (采用) a piece of government information (§44)."""

    v: int
    info_id: str


ArrangementKind = Literal["send", "receive"]


class Arrange(
    msgspec.Struct, tag_field="t", tag="arrange", forbid_unknown_fields=True, kw_only=True
):
    """Proposes an out-of-hours arrangement to `counterpart` (§30, §33); it counts once the
    counterpart accepts it. Kind "send" (§30): the proposer is the recipient and asks the
    counterpart to send that day's document until `until`; "receive" (§33): the proposer is
    the sender and asks the counterpart to receive it until then. `day` is YYYY-MM-DD, `until`
    HH:MM in the exchange's time; `doc_no` "" means any document between the two that day."""

    v: int
    kind: ArrangementKind
    counterpart: str
    day: str
    until: str
    doc_no: str = ""


class ArrangeAnswer(
    msgspec.Struct, tag_field="t", tag="arrange_answer", forbid_unknown_fields=True
):
    """The counterpart accepts or declines a proposed arrangement."""

    v: int
    arrangement: str
    accept: bool


Command = (
    Submit
    | Receipt
    | StatusQuery
    | PrintRequest
    | Return
    | ResendRequest
    | Resend
    | QuotaRequest
    | QuotaGrant
    | Withdraw
    | AttachmentsReceived
    | Heartbeat
    | Info
    | Reply
    | Adopt
    | UnitsQuery
    | Arrange
    | ArrangeAnswer
)


class Deliver(
    msgspec.Struct, tag_field="t", tag="deliver", forbid_unknown_fields=True, kw_only=True
):
    """A document handed to one recipient, with what the router recorded about sending it."""

    v: int = VERSION
    envelope: Envelope
    role: Role
    print_quota: int
    attempt: int
    sent_at: str
    sent_exchange_date: str


class Person(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who in a unit acted (§14): their id in the register and their Chinese name (§13)."""

    id: str
    chinese_name: str


# A message that may name a person omits its fields left at their defaults, so that one naming
# nobody still decodes in a client from before persons were named (its decoding is strict).
# Its `v` is given by a factory, which omit_defaults never omits: every message says its version.
_ALWAYS_VERSION = msgspec.field(default_factory=lambda: VERSION)


class Status(
    msgspec.Struct,
    tag_field="t",
    tag="status",
    forbid_unknown_fields=True,
    kw_only=True,
    omit_defaults=True,
):
    """The router's answer to a command, or news about a document the unit sent.

    `ref` is the message id of the command this answers, empty for unsolicited news. A field
    added since version 1 is UNSET unless it says something, and then left out of the
    message, so a client older than the field still reads it.
    """

    v: int = _ALWAYS_VERSION
    ref: str = ""
    doc_id: str = ""
    state: str
    reason: str = ""
    message: str = ""
    recipient: str = ""
    at: str
    exchange_date: str = ""
    # The exchange's seal on what it attests to a sender, such as a receipt (non-repudiation).
    seal: SealStamp | None = None
    # The out-of-hours arrangements (§30, §33) that dated it, or that this news is about.
    arrangements: list[str] | msgspec.UnsetType = msgspec.UNSET
    # Who in the recipient's unit received, printed, returned or asked (§14).
    person: Person | None = None


class PrintGrant(
    msgspec.Struct, tag_field="t", tag="print_grant", forbid_unknown_fields=True, kw_only=True
):
    """Permission to print the copies numbered `first_copy` to `last_copy`, both included,
    under the exchange's seal. A range rather than a list, so that a grant stays small however
    many copies it numbers."""

    v: int = VERSION
    ref: str
    doc_id: str
    recipient: str
    first_copy: int
    last_copy: int
    remaining: int
    at: str
    seal: SealStamp | None = None


class PrintDenied(
    msgspec.Struct, tag_field="t", tag="print_denied", forbid_unknown_fields=True, kw_only=True
):
    v: int = VERSION
    ref: str
    doc_id: str
    requested: int
    remaining: int
    message: str


class Withdrawn(
    msgspec.Struct,
    tag_field="t",
    tag="withdrawn",
    forbid_unknown_fields=True,
    kw_only=True,
    omit_defaults=True,
):
    """Tells a recipient a document it was sent is withdrawn: do not print or file it."""

    v: int = _ALWAYS_VERSION
    doc_id: str
    at: str
    # Who in the sending unit withdrew it (§14).
    person: Person | None = None


class WithdrawResult(
    msgspec.Struct, tag_field="t", tag="withdraw_result", forbid_unknown_fields=True, kw_only=True
):
    """The answer to a withdraw: from whom it was withdrawn, and who had it already (refused)."""

    v: int = VERSION
    ref: str
    doc_id: str
    withdrawn: list[str]
    refused: dict[str, str]
    at: str


class PrintedCopies(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Copies `first_copy` to `last_copy` of a document, printed by `person` (§35)."""

    first_copy: int
    last_copy: int
    at: str
    person: Person | None = None


class RecipientState(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Fields with defaults, added since version 1, are left out at their default, so a client
    older than them still reads the message."""

    recipient: str
    role: Role
    state: str
    print_quota: int
    printed: int
    attempt: int
    delivered_at: str | None
    received_at: str | None
    received_exchange_date: str | None
    attachments_received_at: str | None
    # The out-of-hours arrangements it was sent (§30) and received (§33) under.
    sent_arrangement: str = ""
    received_arrangement: str = ""
    # Who in the recipient's unit received it (§37), printed which copies (§35), returned it
    # (§34); who in the sender's withdrew it from this recipient.
    received_by: Person | None = None
    prints: list[PrintedCopies] = []
    returned_by: Person | None = None
    withdrawn_by: Person | None = None


class DocumentStatus(
    msgspec.Struct,
    tag_field="t",
    tag="document_status",
    forbid_unknown_fields=True,
    kw_only=True,
    omit_defaults=True,
):
    v: int = _ALWAYS_VERSION
    ref: str
    doc_id: str
    title: str
    doc_no: str
    sent_at: str
    sent_exchange_date: str
    paper_attachments: list[str]
    recipients: list[RecipientState]
    # Who in the sending unit sent it (§14).
    sent_by: Person | None = None


# fault: the exchange or a unit's link is down (§46); paper: the fault outlasted the fallback
# time and the listed documents go on paper (§47); recovered: the link is back; undeliverable:
# a message to `scope` that the broker can never take was set aside (to the General Office).
# receive_reminder: a document has waited in the recipient's queue past [links]
# receive_reminder_hours of workdays (§33); `documents` names it, `started_at` is its delivery.
NoticeKind = Literal["fault", "paper", "recovered", "undeliverable", "receive_reminder"]


class Notice(msgspec.Struct, tag_field="t", tag="notice", forbid_unknown_fields=True, kw_only=True):
    """News about the exchange itself rather than a document: outages and the paper fallback."""

    v: int = VERSION
    kind: NoticeKind
    fault_id: int
    # The unit whose link is down, or "*" when the exchange itself is down.
    scope: str
    # What was found: heartbeat_lost, queue_untaken or broker_unreachable; for kind
    # undeliverable, why the message was set aside (too_large, invalid_property, unroutable,
    # publish_failed).
    fault: str
    started_at: str
    at: str
    text: str
    # For kind "paper": the documents that now go to `recipient` on paper, no longer
    # electronically. The office gets a copy of every unit's paper notice.
    documents: list[str] = []
    recipient: str = ""


class InfoItem(
    msgspec.Struct, tag_field="t", tag="info_item", forbid_unknown_fields=True, kw_only=True
):
    """An information item handed to a recipient; a reply to a request comes back to the
    requester as kind "reply" with `in_reply_to` set."""

    v: int = VERSION
    id: str
    kind: str
    sender: str
    title: str
    content: str
    at: str
    deadline: str = ""
    period: str = ""
    part: str = ""
    co_units: list[str] = []
    authors: list[str] = []
    issue: str = ""
    in_reply_to: str = ""
    delay: bool = False
    # Public or internal: nothing else gets through (§4).
    classification: Classification = "public"


# reminder: a work update is due soon or today (§41); late: its due date passed unfiled;
# overdue: a request's deadline passed with neither a reply nor an explained delay (§42).
InfoNoticeKind = Literal["reminder", "late", "overdue"]


class InfoNotice(
    msgspec.Struct, tag_field="t", tag="info_notice", forbid_unknown_fields=True, kw_only=True
):
    """A reminder or a flag about information owed. Not `Notice`: that one describes link
    faults and requires their fields."""

    v: int = VERSION
    kind: InfoNoticeKind
    # The request's id, or the work-update period ("2026", "2026-03").
    subject: str
    due: str
    at: str
    text: str


class RegisteredUnit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: str
    name: str
    status: str


class UnitList(
    msgspec.Struct, tag_field="t", tag="unit_list", forbid_unknown_fields=True, kw_only=True
):
    """The units the router's config registers, as it runs now."""

    v: int = VERSION
    ref: str
    units: list[RegisteredUnit]


RouterMessage = (
    Deliver
    | Status
    | DocumentStatus
    | PrintGrant
    | PrintDenied
    | Withdrawn
    | WithdrawResult
    | Notice
    | InfoItem
    | InfoNotice
    | UnitList
)
Answer = Status | DocumentStatus | PrintGrant | PrintDenied | WithdrawResult | UnitList


# Fields added since version 1 that the seal signs only when set: a client older than them
# checks a seal over the fields it knows, and gets the same bytes for a message without them.
_SIGNED_WHEN_SET = ("arrangements", "person")


def signed_bytes(message: msgspec.Struct) -> bytes:
    """What the exchange seal signs on a message it attests: every field but the seal."""
    fields = msgspec.structs.asdict(message)
    del fields["seal"]
    for name in _SIGNED_WHEN_SET:
        if name in fields and not fields[name]:
            del fields[name]
    fields["t"] = message.__struct_config__.tag
    return _canonical.encode(fields)


def type_name(message: msgspec.Struct) -> str:
    return str(message.__struct_config__.tag)


_encoder = msgspec.msgpack.Encoder()
_COMMAND_TYPES = {str(cls.__struct_config__.tag) for cls in get_args(Command)}
_ROUTER_MESSAGE_TYPES = {str(cls.__struct_config__.tag) for cls in get_args(RouterMessage)}


class _Header(msgspec.Struct):
    v: int
    t: str


_header_decoder = msgspec.msgpack.Decoder(_Header)
_command_decoder = msgspec.msgpack.Decoder(Command)
_router_message_decoder = msgspec.msgpack.Decoder(RouterMessage)


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def encode_deliver(
    envelope: bytes,
    *,
    role: Role,
    print_quota: int,
    attempt: int,
    sent_at: str,
    sent_exchange_date: str,
) -> bytes:
    """A Deliver around an envelope already encoded (with its body): a circular's envelope,
    which names every recipient, is encoded once for all of them, not once each. The bytes
    are those `encode(Deliver(...))` gives."""
    deliver = Deliver(
        envelope=msgspec.Raw(envelope),  # type: ignore[arg-type]
        role=role,
        print_quota=print_quota,
        attempt=attempt,
        sent_at=sent_at,
        sent_exchange_date=sent_exchange_date,
    )
    return _encoder.encode(deliver)


def _decoded(decoder: msgspec.msgpack.Decoder, body: bytes, what: str = "") -> object:
    """Every way decoding fails, as the sender's reason code: msgspec raises Python's own
    errors for a string that is not UTF-8 and for nesting deeper than its recursion limit."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise WireError("invalid_message", what + _problem_and_place(exc)) from exc
    except msgspec.DecodeError as exc:
        raise WireError("malformed_message", f"not MessagePack: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise WireError("invalid_text", f"a string is not valid UTF-8: {exc.reason}") from exc
    except RecursionError as exc:
        raise WireError("malformed_message", "arrays or maps nested too deeply") from exc


def _problem_and_place(exc: msgspec.ValidationError) -> str:
    """msgspec's message, cut short where it quotes a value (a wrong enum value, an unknown
    field's name) but keeping where in the message the problem is."""
    problem, at, place = str(exc).partition(" - at `")
    if len(problem) > 2 * QUOTE_MAX:
        problem = problem[: 2 * QUOTE_MAX] + "…"
    return problem + at + place


def _decode(body: bytes, decoder: msgspec.msgpack.Decoder, known_types: set[str]) -> object:
    header = _decoded(_header_decoder, body, "bad message header: ")
    assert isinstance(header, _Header)
    if header.v != VERSION:
        raise WireError(
            "unsupported_version", f"wire version {header.v} is not supported (expected {VERSION})"
        )
    if header.t not in known_types:
        raise WireError("unknown_type", f"unknown message type {quoted(header.t)}")
    return _decoded(decoder, body)


def decode_command(body: bytes) -> Command:
    """Decode what a unit sent; raises WireError with the reason code for its sender."""
    command = _decode(body, _command_decoder, _COMMAND_TYPES)
    assert isinstance(command, get_args(Command))
    if isinstance(command, Info) and command.kind not in INFO_KINDS:
        raise WireError(
            "unknown_info_kind",
            f"unknown info kind {quoted(command.kind)}; known: {', '.join(INFO_KINDS)}",
        )
    return command


_heartbeat_decoder = msgspec.msgpack.Decoder(Heartbeat)


def decode_heartbeat(body: bytes) -> Heartbeat | None:
    """The heartbeat in `body`, or None for anything else. Cheap on large bodies: decoding stops
    at the first field that does not belong to a heartbeat."""
    try:
        heartbeat = _decoded(_heartbeat_decoder, body)
    except WireError:
        return None
    assert isinstance(heartbeat, Heartbeat)
    return heartbeat if heartbeat.v == VERSION else None


def decode_router_message(body: bytes) -> RouterMessage:
    message = _decode(body, _router_message_decoder, _ROUTER_MESSAGE_TYPES)
    assert isinstance(message, get_args(RouterMessage))
    return message


class Batched(msgspec.Struct, forbid_unknown_fields=True):
    """One message inside a batch: exactly what would have been published on its own."""

    message_id: str
    type: str
    body: bytes


class Batch(msgspec.Struct, tag_field="t", tag="batch", forbid_unknown_fields=True, kw_only=True):
    """Several messages to one unit that were due together, in one AMQP message (published with
    type `batch`): each keeps its own message id, for deduplication, and its own bytes, so
    whatever the exchange sealed stays sealed. A unit takes them in order as if each had come
    alone (`unpack`), deliveries and answers alike."""

    v: int = VERSION
    messages: list[Batched]


BATCH_TYPE = str(Batch.__struct_config__.tag)
_batch_decoder = msgspec.msgpack.Decoder(Batch)


def encode_batch(messages: list[Batched]) -> bytes:
    return _encoder.encode(Batch(messages=messages))


def unpack(message_id: str, type_: str, body: bytes) -> list[Batched]:
    """The messages one AMQP message carries: itself, or the contents of a batch."""
    if type_ != BATCH_TYPE:
        return [Batched(message_id, type_, body)]
    batch = _decode(body, _batch_decoder, {BATCH_TYPE})
    assert isinstance(batch, Batch)
    return batch.messages
