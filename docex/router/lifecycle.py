"""What happens to a document after it is sent (§33–§38): receipt, printing, return, resend,
extra copies, withdrawal and paper attachments, one delivery (document × recipient) at a time.

Delivery states (the table is docex/core/states.py):
    queued → delivered → received
    queued | delivered | resend_requested → returned | withdrawn   (only before receipt)
    delivered | received → resend_requested → queued (next attempt) → delivered | received
    returned | resend_requested → queued                           (the sender resends)
    queued | delivered | resend_requested → paper   (§47: a link fault outlasted the fallback
                                                     time; final, never delivered electronically)
    queued | delivered | resend_requested → forwarded | recipient_revoked   (§9: the unit left)
Receipt time is a column, not a state: set once by the first print, download or read (§37)
and kept through any later resend.

What an action may do is decided in docex/core/documents.py; this module reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from docex import limits, wire
from docex.clock import Clock
from docex.config import ExchangeSettings
from docex.core import documents
from docex.core.rejection import Rejection
from docex.core.states import RESENDABLE, TAKEN_IN, DeliveryState, sources
from docex.exchange_date import ExchangeCalendar, seconds_between
from docex.ids import delivery_message_id
from docex.ledger.port import Ledger, LedgerReads
from docex.ledger.records import Delivery, DeliveryAct, StoredDocument, stored_envelope
from docex.router.arrangements import Arrangements
from docex.router.metrics import Metrics
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.verify import SealVerifier

log = structlog.get_logger("docex.router")

Answer = Callable[[str, wire.Answer | wire.Withdrawn], None]
Sealable = TypeVar("Sealable", wire.Status, wire.PrintGrant)


class Attest(Protocol):
    def __call__(self, message: Sealable) -> Sealable: ...


def subject_lock(subject: str) -> str:
    """The lock (`Ledger.lock_subject`) a document or information item is changed under."""
    return f"s:{subject}"


def named(ledger: LedgerReads, unit: str, person: str) -> wire.Person | None:
    """The person as answers name them (§14): id and Chinese name from the register; None for
    a unit acting as a whole."""
    if not person:
        return None
    registered = ledger.person(unit, person)
    return wire.Person(id=person, chinese_name=registered.chinese_name if registered else "")


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
        arrangements: Arrangements,
    ) -> None:
        self.ledger = ledger
        self.arrangements = arrangements
        self.calendar = calendar
        self.settings = settings
        self.clock = clock
        self.verifier = verifier
        self.answer = answer
        self.attest = attest
        self.metrics = metrics

    def now(self) -> str:
        """The time of an action. Only a receipt has an exchange date (§33): a year without
        holiday data stops receipts, not withdrawals, returns or the switch to paper."""
        return self.calendar.stamp(self.clock.now())

    # Recipient's side.

    def receipt(self, unit: str, message_id: str, receipt: wire.Receipt, person: str = "") -> None:
        """§36, §37: a declassified download or a read into the office system."""
        document, delivery = self._addressed_to(unit, receipt.doc_id)
        documents.require_state(delivery, TAKEN_IN, "read or download")
        moment = self._receive(document, unit, receipt.kind, person)
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

    def print_request(
        self, unit: str, message_id: str, request: wire.PrintRequest, person: str = ""
    ) -> None:
        """§35: printing needs the verification seal; copies are numbered within the quota."""
        document, delivery = self._addressed_to(unit, request.doc_id)
        documents.require_state(delivery, TAKEN_IN, "print")
        self._check_print_seal(unit, message_id, request)
        decision = documents.decide_print(delivery.printed, delivery.print_quota, request.copies)
        if isinstance(decision, documents.PrintDenied):
            self.answer(
                unit,
                wire.PrintDenied(
                    ref=message_id,
                    doc_id=document.id,
                    requested=request.copies,
                    remaining=decision.remaining,
                    message=f"asked for {request.copies}, {decision.remaining} of"
                    f" {delivery.print_quota} copies left",
                ),
            )
            log.info("print_denied", doc_id=document.id, remaining=decision.remaining)
            return
        if not self.ledger.add_printed(document.id, unit, request.copies, delivery.printed):
            raise documents.changed_meanwhile(delivery, "print")
        self._receive(document, unit, "printed", person)
        at = self.now()
        first, last = decision.first, decision.last
        self.ledger.record_act(
            document.id, DeliveryAct(unit, "printed", person, at, first_copy=first, last_copy=last)
        )
        self.answer(
            unit,
            self.attest(
                wire.PrintGrant(
                    ref=message_id,
                    doc_id=document.id,
                    recipient=unit,
                    first_copy=first,
                    last_copy=last,
                    remaining=decision.remaining,
                    at=at,
                )
            ),
        )
        self.answer(
            document.sender,
            wire.Status(
                doc_id=document.id,
                state="printed",
                recipient=unit,
                at=at,
                message=f"copies {first}–{last} of {delivery.print_quota}",
                person=named(self.ledger, unit, person),
            ),
        )
        log.info("print_granted", doc_id=document.id, first=first, last=last)

    def return_document(
        self, unit: str, message_id: str, command: wire.Return, person: str = ""
    ) -> None:
        """§34: a recipient who finds the document wrong returns it, before taking it in."""
        document, delivery = self._addressed_to(unit, command.doc_id)
        if not command.reason.strip():
            raise Rejection("reason_required", "say why the document is returned")
        documents.require_unreceived(delivery, "return")
        if not self.ledger.move(document.id, unit, DeliveryState.RETURNED):
            raise documents.changed_meanwhile(delivery, "return")
        at = self._tell_both(
            unit,
            message_id,
            document,
            "returned",
            message=command.reason,
            reason="returned_by_recipient",
            person=person,
        )
        self.ledger.record_act(document.id, DeliveryAct(unit, "returned", person, at))
        log.info("document_returned", doc_id=document.id, reason=command.reason)

    def resend_request(
        self, unit: str, message_id: str, command: wire.ResendRequest, person: str = ""
    ) -> None:
        """§38: printing, downloading or reading failed; the sender is asked to send again."""
        document, delivery = self._addressed_to(unit, command.doc_id)
        action = "ask for a resend of"
        documents.require_state(delivery, sources(DeliveryState.RESEND_REQUESTED), action)
        if not self.ledger.move(document.id, unit, DeliveryState.RESEND_REQUESTED):
            raise documents.changed_meanwhile(delivery, action)
        self._tell_both(
            unit, message_id, document, "resend_requested", message=command.reason, person=person
        )

    def quota_request(
        self, unit: str, message_id: str, command: wire.QuotaRequest, person: str = ""
    ) -> None:
        """§38: the recipient asks the sender for extra copies."""
        document, delivery = self._addressed_to(unit, command.doc_id)
        documents.require_state(delivery, TAKEN_IN, "ask for copies of")
        self._tell_both(
            unit,
            message_id,
            document,
            "quota_requested",
            message=f"{command.copies} more copies: {command.reason}",
            person=person,
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
        person: str = "",
    ) -> str:
        """Answer the recipient's command and tell the sender what it did, and who (§14);
        returns the time."""
        at = self.now()
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
                person=named(self.ledger, unit, person),
            ),
        )
        return at

    # Sender's side.

    def resend(self, unit: str, message_id: str, command: wire.Resend) -> None:
        """§38: the stored document goes again, as the next attempt; nothing is uploaded."""
        document, delivery = self._sent_by(unit, command.doc_id, command.recipient)
        documents.require_state(delivery, RESENDABLE, "resend")
        pruned_at = self.ledger.content_pruned_at(document.sha256)
        if pruned_at is not None:
            raise Rejection(
                "document_expired",
                f"the body of {document.id} was deleted by retention at {pruned_at};"
                " its evidence is kept",
            )
        attempt = self.ledger.requeue(document.id, delivery.recipient)
        if attempt is None:
            raise documents.changed_meanwhile(delivery, "resend")
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
                at=self.now(),
                message=f"attempt {attempt}",
            ),
        )

    def quota_grant(self, unit: str, message_id: str, command: wire.QuotaGrant) -> None:
        """§38: the sender grants extra copies, up to what it could have set at once."""
        document, delivery = self._sent_by(unit, command.doc_id, command.recipient)
        documents.require_state(delivery, TAKEN_IN, "grant copies of")
        quota = delivery.print_quota + command.copies
        try:
            limits.check_total_quota("the quota after this grant", quota, self.settings)
        except wire.WireError as exc:
            raise Rejection(exc.code, exc.message) from None
        self.ledger.add_quota(document.id, delivery.recipient, command.copies)
        at = self.now()
        self.answer(
            unit,
            wire.Status(
                ref=message_id,
                doc_id=document.id,
                state="quota_granted",
                recipient=delivery.recipient,
                at=at,
                message=f"quota now {quota}",
            ),
        )
        self.answer(
            delivery.recipient,
            wire.Status(
                doc_id=document.id,
                state="quota_granted",
                at=at,
                message=f"{command.copies} more copies; quota now {quota}",
            ),
        )

    def withdraw(
        self, unit: str, message_id: str, command: wire.Withdraw, person: str = ""
    ) -> None:
        """Withdraw (撤回) from each named recipient who has not received the document yet."""
        document = self.ledger.document(command.doc_id)
        if document is None or document.sender != unit:
            raise Rejection("unknown_document", f"you sent no document {command.doc_id!r}")
        deliveries = {d.recipient: d for d in self.ledger.deliveries(document.id)}
        plan = documents.plan_withdrawal(command.recipients, deliveries)
        at = self.now()
        by = named(self.ledger, unit, person)
        withdrawn, refused = [], dict(plan.refused)
        for recipient in plan.withdrawn:
            if not self.ledger.move(document.id, recipient, DeliveryState.WITHDRAWN):
                # Changed since it was read (another router): refused as it is now.
                current = self.ledger.delivery(document.id, recipient)
                assert current is not None
                refused[recipient] = current.state
                continue
            self.ledger.record_act(document.id, DeliveryAct(recipient, "withdrawn", person, at))
            self.answer(recipient, wire.Withdrawn(doc_id=document.id, at=at, person=by))
            withdrawn.append(recipient)
        self.answer(
            unit,
            wire.WithdrawResult(
                ref=message_id,
                doc_id=document.id,
                withdrawn=withdrawn,
                refused=refused,
                at=at,
            ),
        )
        log.info("document_withdrawn", doc_id=document.id, withdrawn=withdrawn, refused=refused)

    # The exchange's side.

    def recipient_gone(self, recipient: str, successor: str) -> int:
        """§9(二)(三): a revoked or merged unit's pending documents go to its successor, or
        back to their senders. Returns how many deliveries were moved."""
        at = self.now()
        to = DeliveryState.FORWARDED if successor else DeliveryState.RECIPIENT_REVOKED
        moved = 0
        for delivery in self._pending_locked(recipient):
            document = self.ledger.document(delivery.doc_id)
            assert document is not None
            if not self.ledger.move(delivery.doc_id, recipient, to):
                continue  # received or moved meanwhile (another router)
            moved += 1
            if successor:
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
                    at=at,
                    message=f"{recipient} was merged into {successor}",
                )
            else:
                news = wire.Status(
                    doc_id=delivery.doc_id,
                    state="recipient_revoked",
                    recipient=recipient,
                    reason="recipient_revoked",
                    at=at,
                    message=f"{recipient} left the exchange before receiving it",
                )
            self.answer(document.sender, news)
        log.info("recipient_gone", unit=recipient, successor=successor, moved=moved)
        return moved

    def to_paper(
        self, recipient: str, reason: str, message: str
    ) -> list[tuple[StoredDocument, Delivery]]:
        """§47: the link to this recipient has been down past the fallback time, so what it has
        not received goes on paper. Senders are told, since they hand over the printed copies.
        Returns the deliveries moved, as they were before the move."""
        at = self.now()
        moved = []
        for delivery in self._pending_locked(recipient):
            document = self.ledger.document(delivery.doc_id)
            assert document is not None
            if not self.ledger.move(delivery.doc_id, recipient, DeliveryState.PAPER):
                continue  # received or moved meanwhile (another router)
            self.answer(
                document.sender,
                wire.Status(
                    doc_id=delivery.doc_id,
                    state="paper",
                    recipient=recipient,
                    reason=reason,
                    at=at,
                    message=message,
                ),
            )
            moved.append((document, delivery))
        log.info("switched_to_paper", unit=recipient, documents=[d.id for d, _ in moved])
        return moved

    def _pending_locked(self, recipient: str) -> list[Delivery]:
        """What the recipient has not received, read again once each of its documents is
        locked, as a command about it locks it (docex/router/handler.py): a command another
        router is applying to one of them is decided first, and then one that would read it
        waits, instead of reading it as it was before this job moved it. Locked in one order,
        so two such jobs never wait for each other; a delivery made meanwhile waits for the
        next run."""
        pending = self.ledger.pending_for(recipient)
        locked = {delivery.doc_id for delivery in pending}
        for doc_id in sorted(locked):
            self.ledger.lock_subject(subject_lock(doc_id))
        return [d for d in self.ledger.pending_for(recipient) if d.doc_id in locked]

    # Shared checks.

    def _receive(self, document: StoredDocument, unit: str, how: str, person: str) -> Moment:
        """The first print, download or read is the receipt (§37); the sender gets it sealed,
        naming who received it (§14)."""
        now = self.clock.now()
        # §33: from 15:00 a receipt counts for the next workday, unless the sender asked for a
        # late receipt that day and this unit agreed.
        exchange_date, arrangement = self.arrangements.receipt_date(
            document.sender, document.doc_no, unit, now
        )
        moment = Moment(self.calendar.stamp(now), exchange_date)
        if self.ledger.mark_received(
            document.id, unit, moment.at, moment.exchange_date, arrangement
        ):
            self.ledger.record_act(document.id, DeliveryAct(unit, "received", person, moment.at))
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
                        arrangements=wire.listed([arrangement] if arrangement else []),
                        person=named(self.ledger, unit, person),
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
