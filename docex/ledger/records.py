"""What the ledger stores and hands back, whichever database keeps it: the records every
ledger implementation returns through the port (docex/ledger/port.py)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from docex import wire
from docex.core.links import EXCHANGE as EXCHANGE  # the scope of a fault of the exchange itself


@dataclass(frozen=True)
class SmsRow:
    seq: int
    unit: str
    name: str
    mobile: str
    text: str
    created_at: str


@dataclass(frozen=True)
class OutboxRow:
    """A message to publish; a `deliver` row names its delivery instead of carrying the body,
    so a document's content is stored once however many recipients it has."""

    seq: int
    routing_key: str
    message_id: str
    type: str
    body: bytes | None
    doc_id: str | None
    recipient: str | None


@dataclass(frozen=True)
class StoredDocument:
    id: str
    sender: str
    title: str
    doc_no: str
    sha256: bytes
    envelope: bytes
    sent_at: str
    sent_exchange_date: str


def stored_envelope(document: StoredDocument) -> wire.Envelope:
    """The envelope as sealed, without its body (kept once, by hash, in `contents`)."""
    return msgspec.msgpack.decode(document.envelope, type=wire.Envelope)


@dataclass(frozen=True)
class Delivery:
    doc_id: str
    recipient: str
    role: str
    print_quota: int
    printed: int
    state: str
    attempt: int
    delivered_at: str | None
    received_at: str | None
    received_exchange_date: str | None
    attachments_received_at: str | None
    # The out-of-hours arrangements (§30, §33) it was sent and received under, "" for none.
    sent_arrangement: str = ""
    received_arrangement: str = ""


@dataclass(frozen=True)
class Link:
    unit: str
    last_seen_at: str
    heartbeats: bool


@dataclass(frozen=True)
class Fault:
    id: int
    scope: str  # a unit id, or EXCHANGE
    kind: str
    started_at: str
    ended_at: str | None
    office_notified_at: str | None
    paper_issued_at: str | None


@dataclass(frozen=True)
class NoticeRecord:
    id: int
    fault_id: int
    unit: str
    path: str
    created_at: str


@dataclass(frozen=True)
class StoredInfo:
    id: str
    kind: str
    sender: str
    item: bytes
    created_at: str
    deadline: str
    replied_at: str | None
    delay_explained_at: str | None
    overdue_at: str | None
    adopted_at: str | None


@dataclass(frozen=True)
class RouterRecord:
    """A router sharing a PostgreSQL ledger, as it last reported itself
    (docex/router/cluster.py)."""

    id: str
    leader: bool
    broker_connected: bool
    partitions: list[int]
    seen_ago_s: float
    clock_skew_ms: int


@dataclass(frozen=True)
class CommandRecord:
    """A command the exchange took about a document: who, what, when, and how it ended."""

    unit: str
    type: str
    at: str
    outcome: str  # accepted, rejected
    reason: str
    # The person who acted (§14), "" for a unit acting as a whole.
    person: str = ""


@dataclass(frozen=True)
class DeliveryAct:
    """Who did what to one delivery, and when: `act` is received, printed (copies
    `first_copy`–`last_copy`), returned or withdrawn; `person` "" for a unit as a whole."""

    recipient: str
    act: str
    person: str
    at: str
    first_copy: int | None = None
    last_copy: int | None = None


@dataclass(frozen=True)
class PersonRecord:
    """A person in the register (§13): their unit, duties and current credential (§15)."""

    unit: str
    name: str
    chinese_name: str
    roles: list[str]
    mobile: str
    status: str  # active, disabled
    system: bool  # a unit system's account (an adapter), not a person
    key_id: str
    public_key: bytes
    created_at: str
    changed_at: str
    # The administrator (管理) who made the last change; "" for the General Office's filing.
    changed_by: str = ""
