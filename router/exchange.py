"""What the exchange does with each command a unit sends, written to the ledger.

Everything here runs inside the ledger transaction of its batch: a command's effects and its
answers (outbox rows) commit together or not at all. Nothing here touches the broker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

import msgspec
import structlog

from docex import wire
from docex.clock import Clock
from docex.config import Config, Unit
from router.checks import Rejection, check_submission
from router.ledger import Delivery, Ledger, OutboxRow, StoredDocument
from seals.verify import SealVerifier

log = structlog.get_logger("docex.router")

# Room for the envelope's headers and seal on top of the body limit, so an oversized body is
# refused before it is decoded.
_HEADER_ALLOWANCE = 64 * 1024


class Verdict(Enum):
    ACK = "ack"
    DEAD = "dead"


@dataclass(frozen=True)
class Inbound:
    message_id: str | None
    user_id: str | None
    body: bytes


class Exchange:
    def __init__(
        self, ledger: Ledger, config: Config, verifier: SealVerifier, clock: Clock
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.verifier = verifier
        self.clock = clock
        self.calendar = config.calendar()

    def handle(self, inbound: Inbound) -> Verdict:
        """Apply one command; the caller commits, then acks or dead-letters as returned."""
        unit = self.config.unit_by_user(inbound.user_id or "")
        if unit is None:
            log.warning(
                "command_from_unknown_user", user_id=inbound.user_id, message_id=inbound.message_id
            )
            return Verdict.DEAD
        if not inbound.message_id:
            return self._reject(unit, "", "", Rejection("missing_message_id", "set message_id"))
        if self.ledger.command_seen(unit.id, inbound.message_id):
            log.info("duplicate_command", unit=unit.id, message_id=inbound.message_id)
            return Verdict.ACK
        if unit.status != "active":
            rejection = Rejection("sender_revoked", f"unit {unit.id!r} is {unit.status}")
            return self._reject(unit, inbound.message_id, "", rejection)
        limit = self.config.router.max_document_bytes + _HEADER_ALLOWANCE
        if len(inbound.body) > limit:
            rejection = Rejection(
                "too_large", f"message is {len(inbound.body)} bytes, the limit is {limit}"
            )
            return self._reject(unit, inbound.message_id, "", rejection)
        try:
            command = wire.decode_command(inbound.body)
        except wire.WireError as exc:
            return self._reject(unit, inbound.message_id, "", Rejection(exc.code, exc.message))
        doc_id = command.envelope.id if isinstance(command, wire.Submit) else command.doc_id
        try:
            match command:
                case wire.Submit():
                    self._submit(unit, inbound.message_id, command.envelope)
                case wire.Receipt():
                    self._receipt(unit, inbound.message_id, command)
                case wire.StatusQuery():
                    self._status_query(unit, inbound.message_id, command)
        except Rejection as rejection:
            return self._reject(unit, inbound.message_id, doc_id, rejection)
        return Verdict.ACK

    def _submit(self, unit: Unit, message_id: str, envelope: wire.Envelope) -> None:
        now = self.clock.now()
        check_submission(envelope, unit, self.config, self.verifier, now)
        if self.ledger.document(envelope.id) is not None:
            raise Rejection("duplicate_document", f"document {envelope.id!r} was already sent")
        sent_at = self.calendar.stamp(now)
        exchange_date = self.calendar.exchange_date(now).isoformat()
        stored = StoredDocument(
            id=envelope.id,
            sender=unit.id,
            title=envelope.title,
            doc_no=envelope.doc_no,
            sha256=envelope.sha256,
            envelope=wire.encode(msgspec.structs.replace(envelope, content=b"")),
            sent_at=sent_at,
            sent_exchange_date=exchange_date,
        )
        self.ledger.insert_document(stored, envelope.content, message_id)
        for recipient, role in envelope.recipients():
            quota = envelope.print_quota.get(recipient, 0)
            self.ledger.insert_delivery(envelope.id, recipient, role, quota)
            self.ledger.enqueue(
                recipient,
                f"{envelope.id}/{recipient}/1",
                "deliver",
                doc_id=envelope.id,
                recipient=recipient,
            )
        self.ledger.record_command(message_id, unit.id, "submit", sent_at, "accepted")
        self._answer(
            unit.id,
            wire.Status(
                ref=message_id,
                doc_id=envelope.id,
                state="accepted",
                at=sent_at,
                exchange_date=exchange_date,
            ),
        )
        log.info(
            "document_accepted",
            doc_id=envelope.id,
            sender=unit.id,
            to=envelope.to,
            cc=envelope.cc,
            exchange_date=exchange_date,
        )

    def _receipt(self, unit: Unit, message_id: str, receipt: wire.Receipt) -> None:
        document, delivery = self._own_delivery(unit, receipt.doc_id)
        now = self.clock.now()
        at = self.calendar.stamp(now)
        exchange_date = self.calendar.exchange_date(now).isoformat()
        if delivery.state not in ("queued", "delivered", "received"):
            raise Rejection(
                "not_receivable", f"document {receipt.doc_id!r} is {delivery.state} for you"
            )
        self.ledger.record_command(message_id, unit.id, "receipt", at, "accepted")
        first = self.ledger.mark_received(receipt.doc_id, unit.id, at, exchange_date)
        recorded = self.ledger.delivery(receipt.doc_id, unit.id)
        assert recorded is not None and recorded.received_at is not None
        self._answer(
            unit.id,
            wire.Status(
                ref=message_id,
                doc_id=receipt.doc_id,
                state="received",
                at=recorded.received_at,
                exchange_date=recorded.received_exchange_date or "",
            ),
        )
        if first:
            self._answer(
                document.sender,
                wire.Status(
                    doc_id=receipt.doc_id,
                    state="received",
                    recipient=unit.id,
                    message=receipt.kind,
                    at=at,
                    exchange_date=exchange_date,
                ),
            )
            log.info(
                "document_received", doc_id=receipt.doc_id, recipient=unit.id, how=receipt.kind
            )

    def _status_query(self, unit: Unit, message_id: str, query: wire.StatusQuery) -> None:
        document = self.ledger.document(query.doc_id)
        deliveries = self.ledger.deliveries(query.doc_id) if document else []
        if document is None or (
            document.sender != unit.id and all(d.recipient != unit.id for d in deliveries)
        ):
            raise Rejection("unknown_document", f"no document {query.doc_id!r} of yours")
        if document.sender != unit.id:
            deliveries = [d for d in deliveries if d.recipient == unit.id]
        self.ledger.record_command(
            message_id, unit.id, "status_query", self.calendar.stamp(self.clock.now()), "answered"
        )
        self._answer(
            unit.id,
            wire.DocumentStatus(
                ref=message_id,
                doc_id=document.id,
                title=document.title,
                doc_no=document.doc_no,
                sent_at=document.sent_at,
                sent_exchange_date=document.sent_exchange_date,
                recipients=[_recipient_state(d) for d in deliveries],
            ),
        )

    def fail(self, inbound: Inbound) -> Verdict:
        """A command the router could not process (a bug): its sender still gets an answer."""
        unit = self.config.unit_by_user(inbound.user_id or "")
        if unit is None:
            return Verdict.DEAD
        rejection = Rejection(
            "internal_error", "the router could not process this command; it has been logged"
        )
        return self._reject(unit, inbound.message_id or "", "", rejection)

    def _own_delivery(self, unit: Unit, doc_id: str) -> tuple[StoredDocument, Delivery]:
        document = self.ledger.document(doc_id)
        delivery = self.ledger.delivery(doc_id, unit.id) if document else None
        if document is None or delivery is None:
            raise Rejection("unknown_document", f"no document {doc_id!r} was sent to you")
        return document, delivery

    def _reject(self, unit: Unit, message_id: str, doc_id: str, rejection: Rejection) -> Verdict:
        at = self.calendar.stamp(self.clock.now())
        if message_id:
            self.ledger.record_command(message_id, unit.id, "?", at, "rejected", rejection.code)
        self._answer(
            unit.id,
            wire.Status(
                ref=message_id,
                doc_id=doc_id,
                state="rejected",
                reason=rejection.code,
                message=rejection.message,
                at=at,
            ),
        )
        log.warning(
            "command_rejected",
            unit=unit.id,
            message_id=message_id,
            doc_id=doc_id,
            reason=rejection.code,
            detail=rejection.message,
        )
        return Verdict.DEAD

    def _answer(self, unit_id: str, message: wire.Status | wire.DocumentStatus) -> None:
        tag = type(message).__struct_config__.tag
        assert isinstance(tag, str)
        self.ledger.enqueue(unit_id, uuid.uuid4().hex, tag, body=wire.encode(message))

    def render(self, row: OutboxRow) -> bytes:
        """The bytes to publish for an outbox row; deliveries are built from the stored document."""
        if row.body is not None:
            return row.body
        assert row.doc_id is not None and row.recipient is not None
        document = self.ledger.document(row.doc_id)
        delivery = self.ledger.delivery(row.doc_id, row.recipient)
        assert document is not None and delivery is not None
        envelope = msgspec.msgpack.decode(document.envelope, type=wire.Envelope)
        envelope = msgspec.structs.replace(envelope, content=self.ledger.content(document.sha256))
        return wire.encode(
            wire.Deliver(
                envelope=envelope,
                role="main" if delivery.role == "main" else "copy",
                print_quota=delivery.print_quota,
                attempt=delivery.attempt,
                sent_at=document.sent_at,
                sent_exchange_date=document.sent_exchange_date,
            )
        )

    def published(self, rows: list[OutboxRow]) -> None:
        """The broker confirmed these rows: drop them, and tell senders what reached recipients."""
        self.ledger.remove_from_outbox([row.seq for row in rows])
        at = self.calendar.stamp(self.clock.now())
        for row in rows:
            if row.type != "deliver":
                continue
            assert row.doc_id is not None and row.recipient is not None
            if not self.ledger.mark_delivered(row.doc_id, row.recipient, at):
                continue
            document = self.ledger.document(row.doc_id)
            assert document is not None
            self._answer(
                document.sender,
                wire.Status(doc_id=row.doc_id, state="delivered", recipient=row.recipient, at=at),
            )


def _recipient_state(delivery: Delivery) -> wire.RecipientState:
    return wire.RecipientState(
        recipient=delivery.recipient,
        role="main" if delivery.role == "main" else "copy",
        state=delivery.state,
        print_quota=delivery.print_quota,
        printed=delivery.printed,
        delivered_at=delivery.delivered_at,
        received_at=delivery.received_at,
        received_exchange_date=delivery.received_exchange_date,
    )
