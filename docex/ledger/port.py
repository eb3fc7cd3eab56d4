"""The ledger as the rest of the exchange sees it, whichever database keeps it.

Two sides, so each caller is held to what it needs: operators' tools, the metrics and the
read model (docex/ledger/queries.py) only read (`LedgerReads`); the router works in units of
work that read what it decides on and write the outcome (`Ledger`, both sides). An
implementation (docex/ledger/sqlite.py, docex/ledger/postgres.py) proves itself by passing the
contract suite in tests/ledger/; docex/ledger/open.py picks one from the configured location.

Times are stamps as the caller gives them (exchange local time with its UTC offset), except
the SMS allowance, which counts Unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Protocol

from docex.core.arrangements import Arrangement
from docex.core.states import DeliveryState
from docex.ledger.audit import AuditEvent, ChainLink, Checkpoint
from docex.ledger.board_reads import BoardReads
from docex.ledger.receipt_reminders import Unreceived
from docex.ledger.records import (
    CommandRecord,
    Delivery,
    DeliveryAct,
    Fault,
    Link,
    NoticeRecord,
    OutboxRow,
    PersonRecord,
    RouterRecord,
    SmsRow,
    StoredDocument,
    StoredInfo,
)


class LedgerReads(BoardReads, Protocol):
    """What may be asked of the ledger without changing it, beside a running router; the
    General Office's board asks more (docex/ledger/board_reads.py)."""

    def close(self) -> None: ...

    # The audit chain (docex/ledger/audit.py).

    def chain_links(self, after_seq: int, limit: int) -> list[ChainLink]: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def chain_hash_at(self, seq: int) -> bytes | None: ...

    def document_events(self, doc_id: str) -> list[AuditEvent]: ...

    def unchained_count(self) -> int: ...

    def content_pruned_at(self, sha256: bytes) -> str | None:
        """When retention emptied this body; None while it is kept."""
        ...

    # Documents and deliveries.

    def document(self, doc_id: str) -> StoredDocument | None: ...

    def delivery(self, doc_id: str, recipient: str) -> Delivery | None: ...

    def arrangement(self, arrangement_id: str) -> Arrangement | None: ...

    def arrangements_on(self, day: str, sender: str) -> list[Arrangement]:
        """Every arrangement, in any state, about what `sender` sends on `day` (YYYY-MM-DD)."""
        ...

    def document_commands(self, doc_id: str) -> list[CommandRecord]:
        """Every command taken about the document, accepted or rejected, in time order."""
        ...

    def command_person(self, unit: str, command_id: str) -> str:
        """Who acted for a recorded command; "" for the unit as a whole or no such command."""
        ...

    def person(self, unit: str, name: str) -> PersonRecord | None: ...

    def persons(self, unit: str = "") -> list[PersonRecord]:
        """The register, of one unit or of all, as the General Office sees it (§13)."""
        ...

    def has_persons(self, unit: str) -> bool:
        """Whether the unit registered anyone: a unit with nobody acts as a whole."""
        ...

    def credential_revoked_at(self, unit: str, name: str, key_id: str) -> str | None:
        """When this person's credential `key_id` was revoked; None if never (or not theirs)."""
        ...

    def deliveries(self, doc_id: str) -> list[Delivery]:
        """In the order they were made."""
        ...

    def sender_person(self, doc_id: str) -> str:
        """Who in the sending unit sent the document (§14); "" for the unit as a whole."""
        ...

    def delivery_acts(self, doc_id: str) -> list[DeliveryAct]:
        """Who received, printed, returned or withdrew each of its deliveries, in order."""
        ...

    def deliveries_by_state(self) -> list[tuple[str, int]]:
        """Every state a delivery has been in, by name, with how many are in it now (0
        included, so a Prometheus series drops to 0 rather than vanishing)."""
        ...

    def pending_receipts(self) -> list[tuple[str, int]]:
        """Per unit, by unit id: deliveries it has yet to take in."""
        ...

    def oldest_untaken(self, unit: str, since: str | None) -> str | None:
        """When the oldest delivery still untaken by the unit, and delivered after `since`,
        was delivered (compared as instants)."""
        ...

    # Outbox and SMS outbox.

    def outbox_depth(self) -> int: ...

    def dead_outbox_rows(self) -> int:
        """How many rows were set aside (`LedgerWrites.set_aside`)."""
        ...

    def sms_depth(self) -> int: ...

    # Units, links, faults (§46) and paper notices (§47).

    def unit_names(self, unit_id: str) -> list[tuple[str, str, str]]:
        """(old name, new name, changed at) of each renaming, in order (§9)."""
        ...

    def link(self, unit: str) -> Link | None: ...

    def fault(self, fault_id: int) -> Fault | None: ...

    def open_faults(self) -> list[Fault]:
        """Oldest first."""
        ...

    def faults(self) -> list[Fault]:
        """Open and ended, oldest first."""
        ...

    def notices(self, fault_id: int | None = None, unit: str | None = None) -> list[NoticeRecord]:
        """Oldest first, of one fault and/or one unit when given."""
        ...

    def notice(self, notice_id: int) -> NoticeRecord | None: ...

    def notice_pdf(self, notice_id: int) -> bytes | None:
        """The notice as written; None for a notice from before notices kept their PDF."""
        ...

    def notice_documents(self, notice_id: int) -> list[str]:
        """The documents the notice lists, in the order given."""
        ...

    def routers(self) -> list[RouterRecord]:
        """The routers sharing the ledger, as each last reported itself (none for a ledger
        with one router)."""
        ...

    # Information items (§39-§45).

    def info(self, info_id: str) -> StoredInfo | None: ...

    def info_recipients(self, info_id: str) -> list[str]: ...

    def filed_parts(self, unit: str, period: str) -> dict[str, str]:
        """The work-update parts a unit filed for a period, each with when it was first filed."""
        ...

    def unreceived_unreminded(self, delivered_by: str) -> list[Unreceived]:
        """Deliveries in their recipient's queue since `delivered_by` or earlier, neither
        received nor reminded of (§33), oldest first (docex/ledger/receipt_reminders.py)."""
        ...

    # The statistics of `docex report` (docex/router/report.py). `period` is a date prefix of
    # local stamps and exchange dates: "2026" or "2026-03".

    def deliveries_sent_in(self, period: str) -> list[tuple[str, str, str, str, str, str | None]]:
        """(doc_id, sender, recipient, state, sent_exchange_date, received_exchange_date) of
        every delivery of the documents sent in the period."""
        ...

    def received_in(self, period: str) -> dict[str, int]:
        """Deliveries received in the period, by recipient."""
        ...

    def commands_accepted_in(self, type_: str, period: str) -> dict[str, int]:
        """Commands of the type accepted in the period, by unit."""
        ...

    def info_sent_in(self, period: str) -> list[tuple[str, str, str | None]]:
        """(sender, kind, adopted_at) of the information items sent in the period."""
        ...

    def requests_overdue_in(self, period: str) -> dict[str, int]:
        """Requests that went overdue in the period, by the unit that was to handle them."""
        ...


class LedgerWrites(Protocol):
    """The router's unit of work: every write it makes, and the reads it decides them on.

    Writes count only inside `transaction()`; one that raises leaves nothing behind."""

    def transaction(self, durable: bool = True) -> AbstractContextManager[None]:
        """`durable=False`: for bookkeeping that is redone if lost, a commit that a power cut
        may undo."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside a transaction: one that raises undoes only its own writes (one command of a
        batch)."""
        ...

    def record_liveness(self, at: str) -> None: ...

    def lock_subject(self, subject: str) -> None:
        """Until the transaction ends, no other router's transaction gets past this for the
        same subject (a document, an information item, a command): what it reads stays true
        until it commits. A database with one writer at a time needs nothing here."""
        ...

    def apply_once(self, digest: str, at: str, router: str) -> bool:
        """Whether the ledger-side changes of the configuration with this digest are still to
        be applied: true for the first router that reloads it, once per exchange."""
        ...

    def fold_state_counts(self) -> None:
        """Bring the per-state counts up to date where they are kept as deltas (the leader's
        job, every few seconds)."""
        ...

    # Commands: each recorded once per unit and id, so a redelivered one is recognised.

    def command_seen(self, unit: str, command_id: str) -> bool: ...

    def record_command(
        self,
        command_id: str,
        unit: str,
        type_: str,
        at: str,
        outcome: str,
        reason: str = "",
        doc_id: str = "",
        person: str = "",
    ) -> None:
        """`doc_id`: the document it was about, for that document's history; `person`: who
        in the unit acted (§14), "" when the unit acted as a whole."""
        ...

    # The register of persons and roles (§13–§15), kept by the exchange.

    def add_person(self, person: PersonRecord) -> None:
        """A new person with their first credential, issued at `person.created_at`."""
        ...

    def set_person_status(self, unit: str, name: str, status: str, at: str, by: str = "") -> bool:
        """`by`: the unit's administrator who did it; "" for the General Office."""
        ...

    def replace_credential(
        self, unit: str, name: str, key_id: str, public_key: bytes, at: str, by: str = ""
    ) -> bool:
        """A reset (§15): the new key replaces the person's, every earlier one is revoked."""
        ...

    # The audit chain: the write methods record their own events; these are for the rest.

    def record_event(
        self,
        what: str,
        *,
        doc_id: str | None = None,
        unit: str | None = None,
        at: str = "",
        **detail: object,
    ) -> None: ...

    def chain_events(self, limit: int = 1000) -> int:
        """Append committed events to the chain; the leader's job."""
        ...

    def add_checkpoint(
        self, sign: Callable[[bytes], bytes], certificate: bytes, at: str
    ) -> Checkpoint | None: ...

    # Retention (docex/ledger/retention.py).

    def prune_bodies(self, cutoff: str, at: str, limit: int) -> tuple[int, int]: ...

    def prune_evidence(self, cutoff: str, limit: int) -> dict[str, int]: ...

    # Documents and deliveries.

    def content(self, sha256: bytes) -> bytes:
        """DocumentExpired (docex/ledger/errors.py) when retention emptied it."""
        ...

    def insert_document(self, document: StoredDocument, content: bytes, command_id: str) -> None:
        """Content is kept once by its hash, however many documents carry it."""
        ...

    def insert_delivery(
        self, doc_id: str, recipient: str, role: str, print_quota: int, arrangement: str = ""
    ) -> None:
        """A new delivery is `queued`, at attempt 1, with nothing printed; `arrangement` is
        the out-of-hours arrangement it is sent under (§30)."""
        ...

    def mark_delivered(self, doc_id: str, recipient: str, at: str) -> bool:
        """False when the delivery was not waiting to be delivered (a republish)."""
        ...

    def mark_received(
        self, doc_id: str, recipient: str, at: str, exchange_date: str, arrangement: str = ""
    ) -> bool:
        """Receipt time is set once, by the first receipt (§37); returns whether this was it.
        `arrangement`: the out-of-hours arrangement that dated it (§33)."""
        ...

    # Out-of-hours arrangements (§30, §33).

    def insert_arrangement(self, arrangement: Arrangement) -> None: ...

    def answer_arrangement(self, arrangement_id: str, state: str, at: str, by: str) -> bool:
        """Compare-and-set from proposed to `state` (accepted or declined); False when it was
        answered already."""
        ...

    def move(self, doc_id: str, recipient: str, to: DeliveryState) -> bool:
        """Compare-and-set: moves only from a state docex/core/states.py allows to reach `to`;
        returns whether it moved."""
        ...

    def add_printed(self, doc_id: str, recipient: str, copies: int, printed_before: int) -> bool:
        """Count printed copies, numbered on from `printed_before` (what the caller read);
        refused (False, nothing counted) past the quota, or when another print was counted
        since that read: two prints never get the same copy numbers."""
        ...

    def add_quota(self, doc_id: str, recipient: str, copies: int) -> None: ...

    def credential_used(self, key_id: str, at: str) -> None:
        """A command signed with this credential was taken: its first use, kept once."""
        ...

    def record_act(self, doc_id: str, act: DeliveryAct) -> None:
        """Who acted on a delivery (§14), kept with the document until retention drops it."""
        ...

    def requeue(self, doc_id: str, recipient: str) -> int | None:
        """Deliver again, as the next attempt; returns its number, None when the delivery was
        in no state to be sent again."""
        ...

    def mark_attachments_received(self, doc_id: str, recipient: str, at: str) -> None:
        """Set once: a later call keeps the first time."""
        ...

    def pending_for(self, recipient: str) -> list[Delivery]:
        """Deliveries to this unit that it has not received yet, in the order made."""
        ...

    def record_unit_name(self, unit_id: str, old_name: str, new_name: str, at: str) -> None: ...

    # The outbox: what the router publishes, committed with what caused it.

    def enqueue(
        self,
        routing_key: str,
        message_id: str,
        type_: str,
        body: bytes | None = None,
        doc_id: str | None = None,
        recipient: str | None = None,
    ) -> None: ...

    def outbox_batch(
        self,
        limit: int,
        held: Collection[str] = (),
        only: Callable[[str], bool] | None = None,
    ) -> list[OutboxRow]:
        """Up to `limit` rows, the destinations taking turns (each one's oldest, then each
        one's second, …), leaving out the `held` destinations and those `only` refuses (the
        units another router publishes to); in the order they were enqueued, which is each
        destination's own order."""
        ...

    def remove_from_outbox(self, seqs: list[int]) -> None: ...

    def set_aside(self, row: OutboxRow, reason: str, error: str, at: str) -> None:
        """Move a row the broker will never take out of the outbox, kept for the operator."""
        ...

    # SMS reminders (§16).

    def queue_sms(self, unit: str, name: str, mobile: str, text: str, at: str) -> None: ...

    def sms_numbers_waiting(self) -> list[str]:
        """The numbers with reminders waiting, the longest-waiting first."""
        ...

    def sms_waiting_for(self, mobile: str) -> list[SmsRow]:
        """Oldest first."""
        ...

    def sms_sent_since(self, mobile: str, since: float) -> int:
        """Texts sent to the number after `since`, for its hourly allowance."""
        ...

    def sms_gone(self, text_id: str, mobile: str, at: float, seqs: list[int]) -> None:
        """The gateway has the text: its reminders leave the outbox and count against the
        number's allowance. Recorded once per text id."""
        ...

    # Links, faults (§46) and paper notices (§47).

    def heard_from(self, unit: str, at: str, heartbeat: bool) -> None:
        """A unit that ever sent a heartbeat stays watched by heartbeat."""
        ...

    def start_fault(self, scope: str, kind: str, at: str, office_notified: bool) -> Fault:
        """At most one fault per scope is open at a time."""
        ...

    def end_fault(self, fault_id: int, at: str) -> None: ...

    def mark_paper_issued(self, fault_id: int, at: str) -> None: ...

    def open_fault(self, scope: str) -> Fault | None: ...

    def last_ended(self, scope: str) -> str | None:
        """When the scope's latest fault ended."""
        ...

    def add_notice(
        self,
        fault_id: int,
        unit: str,
        path: str,
        at: str,
        doc_ids: list[str],
        pdf: bytes | None = None,
    ) -> int:
        """`pdf`: the notice itself, kept in the ledger, so whichever host wrote it, any
        other can print it (`docex notices pdf`, the board)."""
        ...

    # Information items (§39-§45).

    def insert_info(
        self, info: StoredInfo, recipients: list[str], period: str = "", part: str = ""
    ) -> None: ...

    def mark_info(self, info_id: str, column: str, at: str) -> None:
        """Set one of the item's times: replied_at, delay_explained_at, overdue_at or
        adopted_at."""
        ...

    def requests_past_deadline(self, now: str) -> list[StoredInfo]:
        """Requests whose deadline passed with no reply in time, no explained delay, and not
        yet flagged overdue, oldest first. A late reply does not undo the lateness."""
        ...

    def flag_once(self, unit: str, subject: str, what: str, at: str) -> bool:
        """Record a reminder or flag; False when it was already recorded."""
        ...


class Ledger(LedgerReads, LedgerWrites, Protocol):
    """What the router holds: both sides, on one connection, in one unit of work at a time."""
