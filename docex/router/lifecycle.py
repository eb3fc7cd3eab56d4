"""What happens to a document after it is sent (§33–§38): receipt, printing, return, resend,
extra copies, withdrawal and paper attachments, one delivery (document × recipient) at a time.

Delivery states:
    queued → delivered → received
    queued | delivered | resend_requested → returned | withdrawn   (only before receipt)
    delivered | received → resend_requested → queued (next attempt) → delivered | received
    returned | resend_requested → queued                           (the sender resends)
    queued | delivered | resend_requested → paper   (§47: a link fault outlasted the fallback
                                                     time; final, never delivered electronically)
Receipt time is a column, not a state: set once by the first print, download or read (§37)
and kept through any later resend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from docex import limits, wire
from docex.clock import Clock
from docex.config import ExchangeSettings
from docex.core.rules import Rejection
from docex.exchange_date import ExchangeCalendar, seconds_between
from docex.ids import delivery_message_id
from docex.ledger.sqlite import Delivery, Ledger, StoredDocument, stored_envelope
from docex.router.metrics import Metrics
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.verify import SealVerifier

log = structlog.get_logger("docex.router")

BEFORE_RECEIPT = ("queued", "delivered", "resend_requested")
TAKEN_IN = ("queued", "delivered", "resend_requested", "received")
RESENDABLE = ("returned", "resend_requested")

Answer = Callable[[str, wire.Answer | wire.Withdrawn], None]
Sealable = TypeVar("Sealable", wire.Status, wire.PrintGrant)


class Attest(Protocol):
    def __call__(self, message: Sealable) -> Sealable: ...


@dataclass(frozen=True)
class Moment:
    at: str
    exchange_date: str


class Lifecycle:
    def __init__(
        self,
        ledger: Ledger,
        calendar: ExchangeCalendar,
        clock: Clock,
        verifier: SealVerifier,
        answer: Answer,
        attest: Attest,
        metrics: Metrics,
        settings: ExchangeSettings,
    ) -> None:
        self.ledger = ledger
        self.calendar = calendar
        self.settings = settings
        self.clock = clock
        self.verifier = verifier
        self.answer = answer
        self.attest = attest
        self.metrics = metrics

    def now(self) -> Moment:
        now = self.clock.now()
        return Moment(self.calendar.stamp(now), self.calendar.exchange_date(now).isoformat())

    # Recipient's side.

    def receipt(self, unit: str, message_id: str, receipt: wire.Receipt) -> None:
        """§36, §37: a declassified download or a read into the office system."""
        document, delivery = self._addressed_to(unit, receipt.doc_id)
        self._require(delivery, TAKEN_IN, "read or download")
        moment = self._receive(document, unit, receipt.kind)
        self.answer(
            unit,
            wire.Status(
                ref=message_id,
                doc_id=document.id,
                state="received",
                at=moment.at,
                exchange_date=moment.exchange_date,
            ),
        )

    def print_request(self, unit: str, message_id: str, request: wire.PrintRequest) -> None:
        """§35: printing needs the verification seal; copies are numbered within the quota."""
        document, delivery = self._addressed_to(unit, request.doc_id)
        self._require(delivery, TAKEN_IN, "print")
        self._check_print_seal(unit, message_id, request)
        remaining = delivery.print_quota - delivery.printed
        if not self.ledger.add_printed(document.id, unit, request.copies):
            self.answer(
                unit,
                wire.PrintDenied(
                    ref=message_id,
                    doc_id=document.id,
                    requested=request.copies,
                    remaining=remaining,
                    message=f"asked for {request.copies}, {remaining} of"
                    f" {delivery.print_quota} copies left",
                ),
            )
            log.info("print_denied", doc_id=document.id, remaining=remaining)
            return
        self._receive(document, unit, "printed")
        moment = self.now()
        # Numbered on from the copies printed before: one command at a time changes them.
        first, last = delivery.printed + 1, delivery.printed + request.copies
        self.answer(
            unit,
            self.attest(
                wire.PrintGrant(
                    ref=message_id,
                    doc_id=document.id,
                    recipient=unit,
                    first_copy=first,
                    last_copy=last,
                    remaining=remaining - request.copies,
                    at=moment.at,
                )
            ),
        )
        self.answer(
            document.sender,
            wire.Status(
                doc_id=document.id,
                state="printed",
                recipient=unit,
                at=moment.at,
                message=f"copies {first}–{last} of {delivery.print_quota}",
            ),
        )
        log.info("print_granted", doc_id=document.id, first=first, last=last)

    def return_document(self, unit: str, message_id: str, command: wire.Return) -> None:
        """§34: a recipient who finds the document wrong returns it, before taking it in."""
        document, delivery = self._addressed_to(unit, command.doc_id)
        if not command.reason.strip():
            raise Rejection("reason_required", "say why the document is returned")
        self._require_unreceived(delivery, "return")
        self.ledger.set_state(document.id, unit, "returned")
        self._tell_both(
            unit,
            message_id,
            document,
            "returned",
            message=command.reason,
            reason="returned_by_recipient",
        )
        log.info("document_returned", doc_id=document.id, reason=command.reason)

    def resend_request(self, unit: str, message_id: str, command: wire.ResendRequest) -> None:
        """§38: printing, downloading or reading failed; the sender is asked to send again."""
        document, delivery = self._addressed_to(unit, command.doc_id)
        self._require(delivery, ("delivered", "received"), "ask for a resend of")
        self.ledger.set_state(document.id, unit, "resend_requested")
        self._tell_both(unit, message_id, document, "resend_requested", message=command.reason)

    def quota_request(self, unit: str, message_id: str, command: wire.QuotaRequest) -> None:
        """§38: the recipient asks the sender for extra copies."""
        document, delivery = self._addressed_to(unit, command.doc_id)
        self._require(delivery, TAKEN_IN, "ask for copies of")
        self._tell_both(
            unit,
            message_id,
            document,
            "quota_requested",
            message=f"{command.copies} more copies: {command.reason}",
        )

    def attachments_received(
        self, unit: str, message_id: str, command: wire.AttachmentsReceived
    ) -> None:
        """§28: the paper attachments reached the recipient."""
        document, _ = self._addressed_to(unit, command.doc_id)
        if not stored_envelope(document).paper_attachments:
            raise Rejection("no_paper_attachments", "this document has no paper attachments")
        at = self._tell_both(unit, message_id, document, "attachments_received")
        self.ledger.mark_attachments_received(document.id, unit, at)

    def _tell_both(
        self,
        unit: str,
        message_id: str,
        document: StoredDocument,
        state: str,
        *,
        message: str = "",
        reason: str = "",
    ) -> str:
        """Answer the recipient's command and tell the sender what it did; returns the time."""
        at = self.now().at
        self.answer(unit, wire.Status(ref=message_id, doc_id=document.id, state=state, at=at))
        self.answer(
            document.sender,
            wire.Status(
                doc_id=document.id,
                state=state,
                recipient=unit,
                at=at,
                message=message,
                reason=reason,
            ),
        )
        return at

    # Sender's side.

    def resend(self, unit: str, message_id: str, command: wire.Resend) -> None:
        """§38: the stored document goes again, as the next attempt; nothing is uploaded."""
        document, delivery = self._sent_by(unit, command.doc_id, command.recipient)
        self._require(delivery, RESENDABLE, "resend")
        attempt = self.ledger.requeue(document.id, delivery.recipient)
        self.ledger.enqueue(
            delivery.recipient,
            delivery_message_id(document.id, delivery.recipient, attempt),
            "deliver",
            doc_id=document.id,
            recipient=delivery.recipient,
        )
        self.answer(
            unit,
            wire.Status(
                ref=message_id,
                doc_id=document.id,
                state="queued",
                recipient=delivery.recipient,
                at=self.now().at,
                message=f"attempt {attempt}",
            ),
        )

    def quota_grant(self, unit: str, message_id: str, command: wire.QuotaGrant) -> None:
        """§38: the sender grants extra copies, up to what it could have set at once."""
        document, delivery = self._sent_by(unit, command.doc_id, command.recipient)
        self._require(delivery, TAKEN_IN, "grant copies of")
        quota = delivery.print_quota + command.copies
        try:
            limits.check_total_quota("the quota after this grant", quota, self.settings)
        except wire.WireError as exc:
            raise Rejection(exc.code, exc.message) from None
        self.ledger.add_quota(document.id, delivery.recipient, command.copies)
        moment = self.now()
        self.answer(
            unit,
            wire.Status(
                ref=message_id,
                doc_id=document.id,
                state="quota_granted",
                recipient=delivery.recipient,
                at=moment.at,
                message=f"quota now {quota}",
            ),
        )
        self.answer(
            delivery.recipient,
            wire.Status(
                doc_id=document.id,
                state="quota_granted",
                at=moment.at,
                message=f"{command.copies} more copies; quota now {quota}",
            ),
        )

    def withdraw(self, unit: str, message_id: str, command: wire.Withdraw) -> None:
        """Withdraw (撤回) from each named recipient who has not received the document yet."""
        document = self.ledger.document(command.doc_id)
        if document is None or document.sender != unit:
            raise Rejection("unknown_document", f"you sent no document {command.doc_id!r}")
        deliveries = {d.recipient: d for d in self.ledger.deliveries(document.id)}
        named = list(dict.fromkeys(command.recipients)) or list(deliveries)
        strangers = [r for r in named if r not in deliveries]
        if strangers:
            raise Rejection(
                "not_a_recipient", f"not sent to {len(strangers)} of them: {', '.join(strangers)}"
            )
        moment = self.now()
        withdrawn, refused = [], {}
        for recipient in named:
            delivery = deliveries[recipient]
            if delivery.received_at is not None or delivery.state not in BEFORE_RECEIPT:
                refused[recipient] = delivery.state
                continue
            self.ledger.set_state(document.id, recipient, "withdrawn")
            self.answer(recipient, wire.Withdrawn(doc_id=document.id, at=moment.at))
            withdrawn.append(recipient)
        if not withdrawn:
            raise Rejection(
                "already_received",
                "nothing withdrawn: "
                + ", ".join(f"{who} is {state}" for who, state in refused.items()),
            )
        self.answer(
            unit,
            wire.WithdrawResult(
                ref=message_id,
                doc_id=document.id,
                withdrawn=withdrawn,
                refused=refused,
                at=moment.at,
            ),
        )
        log.info("document_withdrawn", doc_id=document.id, withdrawn=withdrawn, refused=refused)

    # The exchange's side.

    def recipient_gone(self, recipient: str, successor: str) -> int:
        """§9(二)(三): a revoked or merged unit's pending documents go to its successor, or
        back to their senders. Returns how many deliveries were moved."""
        moment = self.now()
        pending = self.ledger.pending_for(recipient)
        for delivery in pending:
            document = self.ledger.document(delivery.doc_id)
            assert document is not None
            if successor:
                self.ledger.set_state(delivery.doc_id, recipient, "forwarded")
                if self.ledger.delivery(delivery.doc_id, successor) is None:
                    self.ledger.insert_delivery(
                        delivery.doc_id, successor, delivery.role, delivery.print_quota
                    )
                    self.ledger.enqueue(
                        successor,
                        delivery_message_id(delivery.doc_id, successor, 1),
                        "deliver",
                        doc_id=delivery.doc_id,
                        recipient=successor,
                    )
                news = wire.Status(
                    doc_id=delivery.doc_id,
                    state="forwarded",
                    recipient=recipient,
                    at=moment.at,
                    message=f"{recipient} was merged into {successor}",
                )
            else:
                self.ledger.set_state(delivery.doc_id, recipient, "recipient_revoked")
                news = wire.Status(
                    doc_id=delivery.doc_id,
                    state="recipient_revoked",
                    recipient=recipient,
                    reason="recipient_revoked",
                    at=moment.at,
                    message=f"{recipient} left the exchange before receiving it",
                )
            self.answer(document.sender, news)
        log.info("recipient_gone", unit=recipient, successor=successor, moved=len(pending))
        return len(pending)

    def to_paper(
        self, recipient: str, reason: str, message: str
    ) -> list[tuple[StoredDocument, Delivery]]:
        """§47: the link to this recipient has been down past the fallback time, so what it has
        not received goes on paper. Senders are told, since they hand over the printed copies.
        Returns the deliveries moved, as they were before the move."""
        moment = self.now()
        moved = []
        for delivery in self.ledger.pending_for(recipient):
            document = self.ledger.document(delivery.doc_id)
            assert document is not None
            self.ledger.set_state(delivery.doc_id, recipient, "paper")
            self.answer(
                document.sender,
                wire.Status(
                    doc_id=delivery.doc_id,
                    state="paper",
                    recipient=recipient,
                    reason=reason,
                    at=moment.at,
                    message=message,
                ),
            )
            moved.append((document, delivery))
        log.info("switched_to_paper", unit=recipient, documents=[d.id for d, _ in moved])
        return moved

    # Shared checks.

    def _receive(self, document: StoredDocument, unit: str, how: str) -> Moment:
        """The first print, download or read is the receipt (§37); the sender gets it sealed."""
        moment = self.now()
        if self.ledger.mark_received(document.id, unit, moment.at, moment.exchange_date):
            self.answer(
                document.sender,
                self.attest(
                    wire.Status(
                        doc_id=document.id,
                        state="received",
                        recipient=unit,
                        message=how,
                        at=moment.at,
                        exchange_date=moment.exchange_date,
                    )
                ),
            )
            log.info("document_received", doc_id=document.id, recipient=unit, how=how)
            delivery = self.ledger.delivery(document.id, unit)
            if delivery is not None and delivery.delivered_at is not None:
                self.metrics.deliver_to_receipt.observe(
                    seconds_between(delivery.delivered_at, moment.at)
                )
            return moment
        delivery = self.ledger.delivery(document.id, unit)
        assert delivery is not None and delivery.received_at is not None
        return Moment(delivery.received_at, delivery.received_exchange_date or "")

    def _check_print_seal(self, unit: str, message_id: str, request: wire.PrintRequest) -> None:
        if request.seal is None:
            raise Rejection("unsealed", "a print request must carry the verification seal (§35)")
        try:
            self.verifier.verify(
                request.seal.cert,
                wire.print_request_bytes(request, unit, message_id),
                request.seal.sig,
                unit_id=unit,
                kind=SealKind.VERIFICATION,
                at=self.clock.now(),
            )
        except SealError as exc:
            raise Rejection(exc.code, exc.message) from exc

    def _addressed_to(self, unit: str, doc_id: str) -> tuple[StoredDocument, Delivery]:
        document = self.ledger.document(doc_id)
        delivery = self.ledger.delivery(doc_id, unit) if document else None
        if document is None or delivery is None:
            raise Rejection("unknown_document", f"no document {doc_id!r} was sent to you")
        return document, delivery

    def _sent_by(self, unit: str, doc_id: str, recipient: str) -> tuple[StoredDocument, Delivery]:
        document = self.ledger.document(doc_id)
        if document is None or document.sender != unit:
            raise Rejection("unknown_document", f"you sent no document {doc_id!r}")
        delivery = self.ledger.delivery(doc_id, recipient)
        if delivery is None:
            raise Rejection("not_a_recipient", f"{doc_id} was not sent to {recipient!r}")
        return document, delivery

    @staticmethod
    def _require(delivery: Delivery, states: tuple[str, ...], action: str) -> None:
        if delivery.state not in states:
            specific = delivery.state in ("withdrawn", "returned", "paper")
            raise Rejection(
                f"document_{delivery.state}" if specific else "wrong_state",
                f"cannot {action} document {delivery.doc_id} for {delivery.recipient}:"
                f" it is {delivery.state}",
            )

    @classmethod
    def _require_unreceived(cls, delivery: Delivery, action: str) -> None:
        if delivery.received_at is not None:
            raise Rejection(
                "already_received",
                f"document {delivery.doc_id} was received at {delivery.received_at};"
                f" too late to {action} it",
            )
        cls._require(delivery, BEFORE_RECEIPT, action)
