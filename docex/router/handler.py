"""What the exchange does with each command a unit sends, written to the ledger.

Everything here runs inside the ledger transaction of its batch: a command's effects and its
answers (outbox rows) commit together or not at all. Nothing here touches the broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

import msgspec
import structlog

from docex import limits, persons, wire
from docex.clock import Clock
from docex.config import DELIVERY_ALLOWANCE, Config, Unit
from docex.core import texts
from docex.core.rejection import Rejection
from docex.core.rules import check_submission
from docex.core.states import DeliveryState
from docex.exchange_date import CalendarError, seconds_between
from docex.ids import ID_RULE, delivery_message_id, is_safe_id, uuid7
from docex.ledger.errors import DocumentExpired, LedgerUnavailable
from docex.ledger.port import Ledger
from docex.ledger.records import (
    Delivery,
    DeliveryAct,
    OutboxRow,
    StoredDocument,
    stored_envelope,
)
from docex.router.arrangements import Arrangements
from docex.router.information import Information
from docex.router.lifecycle import Lifecycle, named, subject_lock
from docex.router.metrics import Metrics
from docex.router.reload import Change
from docex.router.sms import Reminders
from docex.seals.seal import Seal
from docex.seals.verify import SealVerifier

log = structlog.get_logger("docex.router")


Attested = TypeVar("Attested", wire.Status, wire.PrintGrant)


class Verdict(Enum):
    ACK = "ack"
    DEAD = "dead"


@dataclass(frozen=True)
class Inbound:
    message_id: str | None
    user_id: str | None
    body: bytes
    # The AMQP headers: who in the unit acts, and their signature (docex/persons.py).
    headers: Mapping[str, object] = field(default_factory=dict)


class CommandHandler:
    def __init__(
        self,
        ledger: Ledger,
        config: Config,
        verifier: SealVerifier,
        seal: Seal,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.verifier = verifier
        self.seal = seal
        self.clock = clock
        self.metrics = metrics
        self.calendar = config.calendar()
        self.arrangements = Arrangements(ledger, config, self.calendar, clock, self.tell)
        self.lifecycle = Lifecycle(
            ledger,
            self.calendar,
            clock,
            verifier,
            self._answer,
            self._attest,
            metrics,
            config.exchange,
            self.arrangements,
        )
        self.information = Information(ledger, config, self.calendar, clock, self.tell, metrics)
        self.reminders = Reminders(ledger)

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Verdict]:
        """Apply a batch in one transaction, each command in a savepoint of its own: a command
        that fails (a bug) is undone alone and answered `internal_error`; the ledger's own
        trouble fails the whole batch, which the caller hands back to the broker."""
        verdicts = []
        with self.ledger.transaction():
            for inbound in batch:
                try:
                    with self.ledger.savepoint():
                        verdicts.append(self.handle(inbound))
                except LedgerUnavailable:
                    raise  # the ledger's trouble, not the command's: the batch waits
                except Exception:
                    log.exception(
                        "command_failed", message_id=inbound.message_id, user_id=inbound.user_id
                    )
                    verdicts.append(self.fail(inbound))
        return verdicts

    def handle(self, inbound: Inbound) -> Verdict:
        """Apply one command; the caller commits, then acks or dead-letters as returned."""
        unit = self.config.unit_by_user(inbound.user_id or "")
        if unit is None:
            log.warning(
                "command_from_unknown_user", user_id=inbound.user_id, message_id=inbound.message_id
            )
            return Verdict.DEAD
        # Whatever is logged while the command is applied names its unit and message id, the
        # id only once it is known to be one (docex/ids.py): a log line must not carry a
        # sender's escape sequences.
        with structlog.contextvars.bound_contextvars(unit=unit.id, message_id=""):
            return self._handle(unit, inbound)

    def _handle(self, unit: Unit, inbound: Inbound) -> Verdict:
        # Anything a unit sends shows its link works (§46); a heartbeat shows nothing else, so
        # it gets no answer and no row in `commands`, from any unit, revoked or not.
        heard_at = self.calendar.stamp(self.clock.now())
        if wire.decode_heartbeat(inbound.body) is not None:
            self.ledger.heard_from(unit.id, heard_at, heartbeat=True)
            return Verdict.ACK
        self.ledger.heard_from(unit.id, heard_at, heartbeat=False)
        if not inbound.message_id:
            return self._reject(unit, "", "", Rejection("missing_message_id", "set message_id"))
        if not is_safe_id(inbound.message_id):
            rejection = Rejection(
                "invalid_message_id",
                f"message_id {wire.quoted(inbound.message_id)} is not an id: {ID_RULE}",
            )
            return self._reject(unit, "", "", rejection)
        structlog.contextvars.bind_contextvars(message_id=inbound.message_id)
        # With several routers on one ledger: the same command redelivered to another router
        # waits here until the first one's transaction ends, and then is seen as a duplicate.
        self.ledger.lock_subject(f"m:{unit.id}:{inbound.message_id}")
        if self.ledger.command_seen(unit.id, inbound.message_id):
            log.info("duplicate_command")
            return Verdict.ACK
        if unit.status != "active":
            rejection = Rejection("sender_revoked", f"unit {unit.id!r} is {unit.status}")
            return self._reject(unit, inbound.message_id, "", rejection)
        limit = self.config.router.max_document_bytes + DELIVERY_ALLOWANCE
        if len(inbound.body) > limit:
            rejection = Rejection(
                "too_large", f"message is {len(inbound.body)} bytes, the limit is {limit}"
            )
            return self._reject(unit, inbound.message_id, "", rejection)
        try:
            command = wire.decode_command(inbound.body)
            limits.check_command(command, self.config.exchange)
        except wire.WireError as exc:
            return self._reject(unit, inbound.message_id, "", Rejection(exc.code, exc.message))
        assert not isinstance(command, wire.Heartbeat), "heartbeats are taken above"
        doc_id = _subject(command)
        if doc_id:
            # Whatever this command reads about its document stays true until it commits,
            # whichever router handles the other commands about it (docex/ledger/postgres.py).
            self.ledger.lock_subject(subject_lock(doc_id))
        # Who the command says acts, recorded with a refusal too (an id, never raw text).
        claimed = inbound.headers.get(persons.PERSON_HEADER)
        person = claimed if isinstance(claimed, str) and is_safe_id(claimed) else ""
        try:
            # A refusal undoes whatever the command wrote before it was refused.
            with self.ledger.savepoint():
                person, key = self._acting_person(unit, inbound, wire.type_name(command))
                self._dispatch(unit, inbound.message_id, command, person)
        except Rejection as rejection:
            return self._reject(
                unit, inbound.message_id, doc_id, rejection, wire.type_name(command), person
            )
        except CalendarError as exc:
            uncovered = Rejection("calendar_not_covered", str(exc))
            return self._reject(
                unit, inbound.message_id, doc_id, uncovered, wire.type_name(command), person
            )
        at = self.calendar.stamp(self.clock.now())
        self.ledger.record_command(
            inbound.message_id,
            unit.id,
            wire.type_name(command),
            at,
            "accepted",
            doc_id=doc_id,
            person=person,
        )
        if key:
            self.ledger.credential_used(key, at)
        return Verdict.ACK

    def _acting_person(self, unit: Unit, inbound: Inbound, command_type: str) -> tuple[str, str]:
        """Who in the unit acts (§14), checked against the register (§13, §15), and their
        credential's key: ("", "") for a unit with nobody registered, which acts as a whole;
        a Rejection with the reason otherwise."""
        headers = inbound.headers
        name = headers.get(persons.PERSON_HEADER)
        if name is None:
            if self.ledger.has_persons(unit.id):
                raise Rejection(
                    "person_required",
                    f"unit {unit.id!r} has a register of persons: a command must name who"
                    " acts and be signed with their credential (§14)",
                )
            return "", ""
        if not isinstance(name, str) or not is_safe_id(name):
            raise Rejection("invalid_person", f"the acting person is not an id: {ID_RULE}")
        key = headers.get(persons.KEY_HEADER)
        signature = headers.get(persons.SIGNATURE_HEADER)
        if not (
            isinstance(key, str)
            and is_safe_id(key)
            and isinstance(signature, str)
            and len(signature) == 128
        ):
            raise Rejection(
                "invalid_person_signature",
                "a person's command carries their key id and a 64-byte signature in hex",
            )
        registered = self.ledger.person(unit.id, name)
        if registered is None:
            raise Rejection(
                "person_unknown", f"no person {name!r} in unit {unit.id!r}'s register (§13)"
            )
        if registered.status != "active":
            raise Rejection("person_disabled", f"person {name!r} of unit {unit.id!r} is disabled")
        if key != registered.key_id:
            revoked_at = self.ledger.credential_revoked_at(unit.id, name, key)
            if revoked_at is not None:
                raise Rejection(
                    "credential_revoked",
                    f"{name!r}'s credential {key} was revoked at {revoked_at} (reset, §15);"
                    " use the one issued then",
                )
            raise Rejection("credential_unknown", f"{key} is not {name!r}'s credential")
        try:
            signed = bytes.fromhex(signature)
        except ValueError:
            signed = b""
        data = persons.signing_bytes(unit.id, name, key, inbound.message_id or "", inbound.body)
        if not persons.verify(registered.public_key, signed, data):
            raise Rejection(
                "person_signature_invalid",
                f"the signature is not {name!r}'s over this command and message id",
            )
        role = persons.COMMAND_ROLES.get(command_type)
        if role is not None and role not in registered.roles:
            raise Rejection(
                "role_missing",
                f"{name!r} does not hold the role {role} ({persons.ROLES[role]}) that"
                f" {command_type} needs; the unit's administrator assigns roles (§13, §14)",
            )
        return name, key

    def _dispatch(self, unit: Unit, message_id: str, command: wire.Command, person: str) -> None:
        life = self.lifecycle
        match command:
            case wire.Submit():
                self._submit(unit, message_id, command.envelope)
            case wire.StatusQuery():
                self._status_query(unit, message_id, command)
            case wire.UnitsQuery():
                self._answer(unit.id, self._unit_list(message_id))
            case wire.Receipt():
                life.receipt(unit.id, message_id, command, person)
            case wire.PrintRequest():
                life.print_request(unit.id, message_id, command, person)
            case wire.Return():
                life.return_document(unit.id, message_id, command, person)
            case wire.ResendRequest():
                life.resend_request(unit.id, message_id, command, person)
            case wire.QuotaRequest():
                life.quota_request(unit.id, message_id, command, person)
            case wire.AttachmentsReceived():
                life.attachments_received(unit.id, message_id, command)
            case wire.Resend():
                life.resend(unit.id, message_id, command)
            case wire.QuotaGrant():
                life.quota_grant(unit.id, message_id, command)
            case wire.Withdraw():
                life.withdraw(unit.id, message_id, command, person)
            case wire.Info():
                self.information.info(unit.id, message_id, command)
            case wire.Reply():
                self.information.reply(unit.id, message_id, command)
            case wire.Adopt():
                self.information.adopt(unit.id, message_id, command)
            case wire.Arrange():
                self.arrangements.propose(unit.id, message_id, person, command)
            case wire.ArrangeAnswer():
                self.arrangements.answer(unit.id, message_id, person, command)

    def _submit(self, unit: Unit, message_id: str, envelope: wire.Envelope) -> None:
        now = self.clock.now()
        check_submission(envelope, unit, self.config, self.verifier, now)
        if self.ledger.document(envelope.id) is not None:
            raise Rejection("duplicate_document", f"document {envelope.id!r} was already sent")
        sent_at = self.calendar.stamp(now)
        # §30: from 15:00 a document counts for the next workday, unless its recipients agreed
        # to a late send that day.
        dated = self.arrangements.send_date(
            unit.id, envelope.doc_no, [recipient for recipient, _ in envelope.recipients()], now
        )
        exchange_date = dated.day.isoformat()
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
            self.ledger.insert_delivery(
                envelope.id, recipient, role, quota, dated.arrangements.get(recipient, "")
            )
            self.ledger.enqueue(
                recipient,
                delivery_message_id(envelope.id, recipient, 1),
                "deliver",
                doc_id=envelope.id,
                recipient=recipient,
            )
        self._answer(
            unit.id,
            wire.Status(
                ref=message_id,
                doc_id=envelope.id,
                state="accepted",
                at=sent_at,
                exchange_date=exchange_date,
                arrangements=wire.listed(sorted(set(dated.arrangements.values()))),
            ),
        )
        self.metrics.accepted.inc()
        log.info(
            "document_accepted",
            doc_id=envelope.id,
            sender=unit.id,
            to=envelope.to,
            cc=envelope.cc,
            exchange_date=exchange_date,
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
        acts: dict[str, list[DeliveryAct]] = {}
        for act in self.ledger.delivery_acts(document.id):
            acts.setdefault(act.recipient, []).append(act)
        names: dict[tuple[str, str], wire.Person | None] = {}
        self._answer(
            unit.id,
            wire.DocumentStatus(
                ref=message_id,
                doc_id=document.id,
                title=document.title,
                doc_no=document.doc_no,
                sent_at=document.sent_at,
                sent_exchange_date=document.sent_exchange_date,
                paper_attachments=stored_envelope(document).paper_attachments,
                recipients=[
                    self._recipient_state(d, document.sender, acts.get(d.recipient, []), names)
                    for d in deliveries
                ],
                sent_by=named(self.ledger, document.sender, self.ledger.sender_person(document.id)),
            ),
        )

    def _recipient_state(
        self,
        delivery: Delivery,
        sender: str,
        acts: list[DeliveryAct],
        names: dict[tuple[str, str], wire.Person | None],
    ) -> wire.RecipientState:
        """A delivery as a status names it: who in each unit received, printed which copies,
        returned or withdrew it (§14); the latest of each for a resent document. `names`:
        the persons looked up so far, so a circular reads each person once."""

        def person(unit: str, name: str) -> wire.Person | None:
            if (unit, name) not in names:
                names[unit, name] = named(self.ledger, unit, name)
            return names[unit, name]

        recipient = delivery.recipient
        by: dict[str, wire.Person | None] = {}
        prints = []
        for act in acts:
            if act.act == "printed":
                assert act.first_copy is not None and act.last_copy is not None
                prints.append(
                    wire.PrintedCopies(
                        first_copy=act.first_copy,
                        last_copy=act.last_copy,
                        at=act.at,
                        person=person(recipient, act.person),
                    )
                )
            else:
                by[act.act] = person(sender if act.act == "withdrawn" else recipient, act.person)
        return msgspec.structs.replace(
            _recipient_state(delivery),
            received_by=by.get("received"),
            prints=prints,
            returned_by=by.get("returned"),
            withdrawn_by=by.get("withdrawn"),
        )

    def _unit_list(self, message_id: str) -> wire.UnitList:
        registered = [
            wire.RegisteredUnit(id=unit.id, name=unit.name, status=unit.status)
            for unit in self.config.units
        ]
        return wire.UnitList(ref=message_id, units=registered)

    def reconfigure(self, config: Config, change: Change) -> None:
        """Take a reloaded configuration between two commands (§9): record renames, and move
        the pending documents of units that left the exchange."""
        at = self.calendar.stamp(self.clock.now())
        for old, new in change.renamed:
            self.ledger.record_unit_name(new.id, old.name, new.name, at)
        self.config = self.information.config = config
        self.lifecycle.settings = config.exchange
        self.calendar = self.lifecycle.calendar = self.information.calendar = config.calendar()
        self.arrangements.config = config
        self.arrangements.calendar = self.calendar
        for unit in change.gone:
            what = "unit_merged" if unit.successor else "unit_revoked"
            self.ledger.record_event(what, unit=unit.id, at=at, successor=unit.successor)
            self.lifecycle.recipient_gone(unit.id, unit.successor)

    def fail(self, inbound: Inbound) -> Verdict:
        """A command the router could not process (a bug): its sender still gets an answer."""
        unit = self.config.unit_by_user(inbound.user_id or "")
        if unit is None:
            return Verdict.DEAD
        rejection = Rejection(
            "internal_error", "the router could not process this command; it has been logged"
        )
        message_id = inbound.message_id or ""
        with structlog.contextvars.bound_contextvars(unit=unit.id, message_id=message_id):
            return self._reject(unit, message_id, "", rejection)

    def _reject(
        self,
        unit: Unit,
        message_id: str,
        doc_id: str,
        rejection: Rejection,
        command_type: str = "?",
        person: str = "",
    ) -> Verdict:
        at = self.calendar.stamp(self.clock.now())
        if message_id:
            self.ledger.record_command(
                message_id, unit.id, command_type, at, "rejected", rejection.code, doc_id, person
            )
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
        self.metrics.rejected.labels(rejection.code).inc()
        log.warning(
            "command_rejected", doc_id=doc_id, reason=rejection.code, detail=rejection.message
        )
        return Verdict.DEAD

    def _answer(self, unit_id: str, message: wire.Answer | wire.Withdrawn) -> None:
        self.tell(unit_id, message)

    def tell(self, unit_id: str, message: wire.RouterMessage) -> None:
        """Queue a message for a unit; it leaves when the caller's transaction commits."""
        self.ledger.enqueue(unit_id, uuid7(), wire.type_name(message), body=wire.encode(message))

    def _attest(self, message: Attested) -> Attested:
        """Put the exchange's seal on what it attests, so a sender can prove it later."""
        unsealed = msgspec.structs.replace(message, seal=None)
        return msgspec.structs.replace(
            unsealed,
            seal=wire.SealStamp(
                serial=self.seal.serial,
                alg="ed25519",
                cert=self.seal.certificate_der,
                sig=self.seal.sign(wire.signed_bytes(unsealed)),
            ),
        )

    def render(
        self, row: OutboxRow, documents: dict[str, tuple[StoredDocument, bytes]] | None = None
    ) -> bytes | None:
        """The bytes to publish for an outbox row; deliveries are built from the stored document.
        None: the delivery was withdrawn or returned while waiting, and must not go out.
        `documents`: what one publishing pass has read already, each document with its sealed
        envelope encoded with its body: a circular to 2,000 units reads and encodes them once,
        not 2,000 times (both never change once stored)."""
        if row.body is not None:
            return row.body
        assert row.doc_id is not None and row.recipient is not None
        delivery = self.ledger.delivery(row.doc_id, row.recipient)
        assert delivery is not None
        if delivery.state != DeliveryState.QUEUED:
            return None
        known = documents if documents is not None else {}
        if row.doc_id not in known:
            stored = self.ledger.document(row.doc_id)
            assert stored is not None
            try:
                content = self.ledger.content(stored.sha256)
            except DocumentExpired as exc:
                # Retention emptied the body while this delivery waited: nothing to send.
                log.warning(
                    "document_expired", doc_id=row.doc_id, recipient=row.recipient, error=str(exc)
                )
                return None
            envelope = msgspec.structs.replace(stored_envelope(stored), content=content)
            known[row.doc_id] = (stored, wire.encode(envelope))
        document, envelope_bytes = known[row.doc_id]
        return wire.encode_deliver(
            envelope_bytes,
            role="main" if delivery.role == "main" else "copy",
            print_quota=delivery.print_quota,
            attempt=delivery.attempt,
            sent_at=document.sent_at,
            sent_exchange_date=document.sent_exchange_date,
        )

    def published(
        self,
        rows: list[OutboxRow],
        documents: Mapping[str, tuple[StoredDocument, bytes]] | None = None,
    ) -> None:
        """The broker confirmed these rows: drop them, tell senders what reached recipients,
        and queue the SMS reminders (§16) about what reached a unit. `documents`: what the
        publishing pass read for `render`, so a document is not read again here."""
        self.ledger.remove_from_outbox([row.seq for row in rows])
        at = self.calendar.stamp(self.clock.now())
        for row in rows:
            if row.type != "deliver":
                self.reminders.reached(self.config, row, at)
                continue
            assert row.doc_id is not None and row.recipient is not None
            if not self.ledger.mark_delivered(row.doc_id, row.recipient, at):
                continue
            read = (documents or {}).get(row.doc_id)
            document = read[0] if read is not None else self.ledger.document(row.doc_id)
            assert document is not None
            self.reminders.delivered(self.config, document, row.recipient, at)
            self.metrics.send_to_deliver.observe(seconds_between(document.sent_at, at))
            self._answer(
                document.sender,
                wire.Status(doc_id=row.doc_id, state="delivered", recipient=row.recipient, at=at),
            )

    def set_aside(self, row: OutboxRow, reason: str, detail: str) -> None:
        """An outbox row the broker can never take leaves the outbox so it holds up no one.
        The General Office is told (§46: the office hears of every failure of the exchange),
        and so is the sender of a document that could not be delivered; the delivery stays
        queued, so a resend (§38) or the paper fallback can still take it."""
        at = self.calendar.stamp(self.clock.now())
        self.ledger.set_aside(row, reason, detail, at)
        office = self.config.router.office_unit
        about_office = row.routing_key == office and row.type == "notice"
        if office and not about_office:
            self.tell(
                office,
                wire.Notice(
                    kind="undeliverable",
                    fault_id=0,
                    scope=row.routing_key[:64],
                    fault=reason,
                    started_at=at,
                    at=at,
                    text=texts.undeliverable_notice(
                        row.routing_key[:64], row.doc_id, row.type, reason
                    ),
                    documents=[row.doc_id] if row.doc_id else [],
                    recipient=row.routing_key[:64],
                ),
            )
        if row.type == "deliver" and row.doc_id is not None:
            if (document := self.ledger.document(row.doc_id)) is not None:
                self._answer(
                    document.sender,
                    wire.Status(
                        doc_id=row.doc_id,
                        state="undeliverable",
                        reason=reason,
                        message="the exchange could not hand this document to the recipient;"
                        " the General Office has been told",
                        recipient=row.recipient or "",
                        at=at,
                    ),
                )


def _subject(command: wire.Command) -> str:
    """The document or information item a command is about, for its rejection."""
    match command:
        case wire.Submit():
            return command.envelope.id
        case wire.Info() | wire.Heartbeat() | wire.UnitsQuery() | wire.Arrange():
            return ""
        case wire.ArrangeAnswer():
            return ""
        case wire.Reply() | wire.Adopt():
            return command.info_id
        case _:
            return command.doc_id


def _recipient_state(delivery: Delivery) -> wire.RecipientState:
    return wire.RecipientState(
        recipient=delivery.recipient,
        role="main" if delivery.role == "main" else "copy",
        state=delivery.state,
        print_quota=delivery.print_quota,
        printed=delivery.printed,
        attempt=delivery.attempt,
        delivered_at=delivery.delivered_at,
        received_at=delivery.received_at,
        received_exchange_date=delivery.received_exchange_date,
        attachments_received_at=delivery.attachments_received_at,
        sent_arrangement=delivery.sent_arrangement,
        received_arrangement=delivery.received_arrangement,
    )
