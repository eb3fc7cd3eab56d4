"""The ledger's statements, written once for both databases that keep it (sqlite.py,
postgres.py): the SQL both accept, and two hooks where they differ. Each subclass opens its
connection, creates its schema (schema.py) and runs transactions its own way.

Group-of-states conditions are written into the statement as literals: they come from
docex/core/states.py, never from a message, and a fixed text lets PostgreSQL prepare it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

from docex.core.arrangements import PROPOSED, Arrangement
from docex.core.states import BEFORE_RECEIPT, TAKEN_AWAY, DeliveryState, sources
from docex.ledger import audit
from docex.ledger.audit import AuditEvent, ChainLink, Checkpoint
from docex.ledger.board_reads import BoardReadsMixin
from docex.ledger.errors import DocumentExpired
from docex.ledger.receipt_reminders import ReceiptReminderReads
from docex.ledger.records import (
    CommandRecord,
    Delivery,
    DeliveryAct,
    Fault,
    Link,
    NoticeRecord,
    OutboxRow,
    PersonRecord,
    SmsRow,
    StoredDocument,
    StoredInfo,
)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the statements need of a database connection: `?` placeholders, and errors
    already turned into docex/ledger/errors.py's."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


_INFO_COLUMNS = (
    "id, kind, sender, item, created_at, deadline, replied_at, delay_explained_at,"
    " overdue_at, adopted_at"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# A write that proves the ledger takes writes; docex/ledger/checkpoint.py makes it too.
RECORD_LIVENESS = (
    "INSERT INTO liveness (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at"
)


class SqlLedger(BoardReadsMixin, ReceiptReminderReads):
    _db: Connection
    # When an audit event happened, for the write methods that are not told (tests set it).
    audit_clock: Callable[[], datetime] = staticmethod(_utc_now)

    def _instant(self, stamp: str) -> str:
        """An SQL expression comparing stamps as instants (they carry their UTC offset)."""
        raise NotImplementedError

    def record_liveness(self, at: str) -> None:
        self._db.execute(RECORD_LIVENESS, (at,))

    def command_seen(self, unit: str, command_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM commands WHERE unit = ? AND id = ?", (unit, command_id)
        ).fetchone()
        return row is not None

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
        self._db.execute(
            "INSERT INTO commands (id, unit, type, received_at, outcome, reason, doc_id, person)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (command_id, unit, type_, at, outcome, reason, doc_id or None, person or None),
        )

    def document_commands(self, doc_id: str) -> list[CommandRecord]:
        rows = self._db.execute(
            "SELECT unit, type, received_at, outcome, reason, person FROM commands"
            " WHERE doc_id = ? ORDER BY received_at",
            (doc_id,),
        ).fetchall()
        return [
            CommandRecord(row[0], row[1], row[2], row[3], row[4], person=row[5] or "")
            for row in rows
        ]

    def command_person(self, unit: str, command_id: str) -> str:
        row = self._db.execute(
            "SELECT person FROM commands WHERE unit = ? AND id = ?", (unit, command_id)
        ).fetchone()
        return str(row[0] or "") if row is not None else ""

    # The register of persons (§13–§15).

    _PERSON_COLUMNS = (
        "unit, name, chinese_name, roles, mobile, status, system, key_id, public_key,"
        " created_at, changed_at, changed_by"
    )

    def person(self, unit: str, name: str) -> PersonRecord | None:
        row = self._db.execute(
            f"SELECT {self._PERSON_COLUMNS} FROM persons WHERE unit = ? AND name = ?",
            (unit, name),
        ).fetchone()
        return _person(row) if row is not None else None

    def persons(self, unit: str = "") -> list[PersonRecord]:
        if unit:
            rows = self._db.execute(
                f"SELECT {self._PERSON_COLUMNS} FROM persons WHERE unit = ? ORDER BY name",
                (unit,),
            ).fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {self._PERSON_COLUMNS} FROM persons ORDER BY unit, name"
            ).fetchall()
        return [_person(row) for row in rows]

    def has_persons(self, unit: str) -> bool:
        row = self._db.execute("SELECT 1 FROM persons WHERE unit = ? LIMIT 1", (unit,)).fetchone()
        return row is not None

    def add_person(self, person: PersonRecord) -> None:
        self._db.execute(
            f"INSERT INTO persons ({self._PERSON_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                person.unit,
                person.name,
                person.chinese_name,
                ",".join(person.roles),
                person.mobile,
                person.status,
                int(person.system),
                person.key_id,
                person.public_key,
                person.created_at,
                person.changed_at,
                person.changed_by,
            ),
        )
        self._db.execute(
            "INSERT INTO person_credentials (key_id, unit, name, issued_at) VALUES (?, ?, ?, ?)",
            (person.key_id, person.unit, person.name, person.created_at),
        )

    def set_person_status(self, unit: str, name: str, status: str, at: str, by: str = "") -> bool:
        cursor = self._db.execute(
            "UPDATE persons SET status = ?, changed_at = ?, changed_by = ?"
            " WHERE unit = ? AND name = ?",
            (status, at, by, unit, name),
        )
        return cursor.rowcount == 1

    def replace_credential(
        self, unit: str, name: str, key_id: str, public_key: bytes, at: str, by: str = ""
    ) -> bool:
        """The new key is the person's from now on; every earlier one is revoked."""
        cursor = self._db.execute(
            "UPDATE persons SET key_id = ?, public_key = ?, changed_at = ?, changed_by = ?"
            " WHERE unit = ? AND name = ?",
            (key_id, public_key, at, by, unit, name),
        )
        if cursor.rowcount != 1:
            return False
        self._db.execute(
            "UPDATE person_credentials SET revoked_at = ?"
            " WHERE unit = ? AND name = ? AND revoked_at IS NULL",
            (at, unit, name),
        )
        self._db.execute(
            "INSERT INTO person_credentials (key_id, unit, name, issued_at) VALUES (?, ?, ?, ?)",
            (key_id, unit, name, at),
        )
        return True

    def credential_revoked_at(self, unit: str, name: str, key_id: str) -> str | None:
        row = self._db.execute(
            "SELECT revoked_at FROM person_credentials WHERE key_id = ? AND unit = ? AND name = ?",
            (key_id, unit, name),
        ).fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    def document(self, doc_id: str) -> StoredDocument | None:
        row = self._db.execute(
            "SELECT id, sender, title, doc_no, sha256, envelope, sent_at, sent_exchange_date"
            " FROM documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        return StoredDocument(*row) if row else None

    def content(self, sha256: bytes) -> bytes:
        """DocumentExpired when retention emptied it (docex/ledger/retention.py)."""
        body, pruned_at = self._db.execute(
            "SELECT body, pruned_at FROM contents WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if pruned_at is not None:
            raise DocumentExpired(pruned_at)
        return bytes(body)

    def content_pruned_at(self, sha256: bytes) -> str | None:
        row = self._db.execute(
            "SELECT pruned_at FROM contents WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return row[0] if row else None

    # The audit chain (docex/ledger/audit.py).

    def record_event(
        self,
        what: str,
        *,
        doc_id: str | None = None,
        unit: str | None = None,
        at: str = "",
        **detail: Any,
    ) -> None:
        """Append an audit event, in the caller's transaction. The write methods below call it
        for every state change they make; call it directly only for changes made elsewhere."""
        at = at or self.audit_clock().isoformat(timespec="milliseconds")
        text = audit.detail_text(detail)
        self._db.execute(
            "INSERT INTO audit_events (what, doc_id, unit, at, detail, hash)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (what, doc_id, unit, at, text, audit.event_hash(what, doc_id, unit, at, text)),
        )

    def _unchained(self, after_event: int | None, limit: int) -> list[tuple[int, bytes]]:
        """(id, hash) of the committed events after `after_event`, in chain order."""
        raise NotImplementedError

    def chain_events(self, limit: int = 1000) -> int:
        """Append committed events to the chain, at most `limit`; returns how many. Inside a
        transaction; one chainer at a time (the subject lock)."""
        self.lock_subject("audit-chain")
        head = self._db.execute(
            "SELECT seq, event_id, hash FROM audit_chain ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, after, prev = (
            (int(head[0]), int(head[1]), bytes(head[2])) if head else (0, None, audit.GENESIS)
        )
        rows = []
        for event_id, event_hash in self._unchained(after, limit):
            seq += 1
            hash_ = audit.chain_hash(prev, bytes(event_hash), seq)
            rows.append((seq, int(event_id), prev, hash_))
            prev = hash_
        self._db.executemany(
            "INSERT INTO audit_chain (seq, event_id, prev_hash, hash) VALUES (?, ?, ?, ?)", rows
        )
        return len(rows)

    def lock_subject(self, subject: str) -> None:
        raise NotImplementedError

    def add_checkpoint(
        self, sign: Callable[[bytes], bytes], certificate: bytes, at: str
    ) -> Checkpoint | None:
        """Sign the chain's head, unless the last checkpoint already has it."""
        head = self._db.execute(
            "SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if head is None:
            return None
        seq, hash_ = int(head[0]), bytes(head[1])
        last = self._db.execute("SELECT max(seq) FROM audit_checkpoints").fetchone()
        if last[0] is not None and int(last[0]) >= seq:
            return None
        checkpoint = Checkpoint(
            seq, hash_, sign(audit.checkpoint_bytes(seq, hash_)), certificate, at
        )
        self._db.execute(
            "INSERT INTO audit_checkpoints (seq, hash, signature, certificate, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (seq, hash_, checkpoint.signature, certificate, at),
        )
        return checkpoint

    def chain_links(self, after_seq: int, limit: int) -> list[ChainLink]:
        rows = self._db.execute(
            "SELECT c.seq, c.event_id, c.prev_hash, c.hash,"
            " e.id, e.what, e.doc_id, e.unit, e.at, e.detail, e.hash"
            " FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id"
            " WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [
            ChainLink(
                int(r[0]),
                int(r[1]),
                bytes(r[2]),
                bytes(r[3]),
                None
                if r[4] is None
                else AuditEvent(int(r[4]), r[5], r[6], r[7], r[8], r[9], bytes(r[10]), int(r[0])),
            )
            for r in rows
        ]

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._db.execute(
            "SELECT seq, hash, signature, certificate, at FROM audit_checkpoints ORDER BY seq"
        ).fetchall()
        return [Checkpoint(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), r[4]) for r in rows]

    def chain_hash_at(self, seq: int) -> bytes | None:
        row = self._db.execute("SELECT hash FROM audit_chain WHERE seq = ?", (seq,)).fetchone()
        return bytes(row[0]) if row else None

    def document_events(self, doc_id: str) -> list[AuditEvent]:
        """A document's evidence: its events in the order they were written, each with its
        place in the chain (None: not chained yet)."""
        rows = self._db.execute(
            "SELECT e.id, e.what, e.doc_id, e.unit, e.at, e.detail, e.hash, c.seq"
            " FROM audit_events e LEFT JOIN audit_chain c ON c.event_id = e.id"
            " WHERE e.doc_id = ? ORDER BY e.id",
            (doc_id,),
        ).fetchall()
        return [
            AuditEvent(
                int(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                bytes(r[6]),
                None if r[7] is None else int(r[7]),
            )
            for r in rows
        ]

    # Retention (docex/ledger/retention.py). `cutoff`: a stamp with its UTC offset.

    def prune_bodies(self, cutoff: str, at: str, limit: int) -> tuple[int, int]:
        """Empty up to `limit` bodies whose every document was sent before `cutoff`, keeping
        their hash, and drop the PDFs of paper notices written before it. Returns (bodies,
        notice PDFs); an event records each body emptied."""
        rows = self._db.execute(
            "SELECT c.sha256 FROM contents c WHERE c.pruned_at IS NULL"
            " AND EXISTS (SELECT 1 FROM documents d WHERE d.sha256 = c.sha256)"
            " AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.sha256 = c.sha256"
            f" AND {self._instant('d.sent_at')} >= {self._instant('?')}) LIMIT ?",
            (cutoff, limit),
        ).fetchall()
        for (sha256,) in rows:
            self._db.execute(
                "UPDATE contents SET body = ?, pruned_at = ? WHERE sha256 = ?",
                (b"", at, sha256),
            )
            for (doc_id,) in self._db.execute(
                "SELECT id FROM documents WHERE sha256 = ?", (sha256,)
            ).fetchall():
                self.record_event("body_deleted", doc_id=doc_id, at=at, sha256=bytes(sha256).hex())
        pdfs = self._db.execute(
            "UPDATE notices SET pdf = NULL WHERE pdf IS NOT NULL"
            f" AND {self._instant('created_at')} < {self._instant('?')}",
            (cutoff,),
        ).rowcount
        return len(rows), int(pdfs)

    def prune_evidence(self, cutoff: str, limit: int) -> dict[str, int]:
        """Delete entirely up to `limit` documents sent before `cutoff`: their deliveries,
        commands, notice links and content, and the audit chain's records (with their events
        and checkpoints) from before `cutoff`, always keeping the chain's head. Returns rows
        deleted per table."""
        ids = [
            doc_id
            for (doc_id,) in self._db.execute(
                "SELECT id FROM documents"
                f" WHERE {self._instant('sent_at')} < {self._instant('?')} LIMIT ?",
                (cutoff, limit),
            ).fetchall()
        ]
        counts: dict[str, int] = {}

        def delete(table: str, sql: str, params: Sequence[Any]) -> None:
            counts[table] = counts.get(table, 0) + int(self._db.execute(sql, params).rowcount)

        for doc_id in ids:
            (sha256,) = self._db.execute(
                "SELECT sha256 FROM documents WHERE id = ?", (doc_id,)
            ).fetchone()
            self._uncount(doc_id)
            delete("deliveries", "DELETE FROM deliveries WHERE doc_id = ?", (doc_id,))
            delete("delivery_acts", "DELETE FROM delivery_acts WHERE doc_id = ?", (doc_id,))
            delete("commands", "DELETE FROM commands WHERE doc_id = ?", (doc_id,))
            delete("notice_documents", "DELETE FROM notice_documents WHERE doc_id = ?", (doc_id,))
            delete("outbox", "DELETE FROM outbox WHERE doc_id = ?", (doc_id,))
            delete("documents", "DELETE FROM documents WHERE id = ?", (doc_id,))
            delete(
                "contents",
                "DELETE FROM contents WHERE sha256 = ?"
                " AND NOT EXISTS (SELECT 1 FROM documents WHERE sha256 = ?)",
                (sha256, sha256),
            )
        # The chain's start moves up to the first record of an event at or after the cutoff.
        (last_old,) = self._db.execute(
            "SELECT max(c.seq) FROM audit_chain c JOIN audit_events e ON e.id = c.event_id"
            f" WHERE {self._instant('e.at')} < {self._instant('?')}"
            " AND c.seq < (SELECT max(seq) FROM audit_chain)",
            (cutoff,),
        ).fetchone()
        if last_old is not None:
            delete(
                "audit_events",
                "DELETE FROM audit_events WHERE id IN"
                " (SELECT event_id FROM audit_chain WHERE seq <= ?)",
                (last_old,),
            )
            delete("audit_chain", "DELETE FROM audit_chain WHERE seq <= ?", (last_old,))
            delete("audit_checkpoints", "DELETE FROM audit_checkpoints WHERE seq <= ?", (last_old,))
        return {table: count for table, count in counts.items() if count}

    def _uncount(self, doc_id: str) -> None:
        """Take a document's deliveries, about to be deleted, out of the state counts."""
        raise NotImplementedError

    def unchained_count(self) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM audit_events e"
            " WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)"
        ).fetchone()
        return int(count)

    def insert_document(self, document: StoredDocument, content: bytes, command_id: str) -> None:
        self._db.execute(
            "INSERT INTO contents (sha256, body) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (document.sha256, content),
        )
        self._db.execute(
            "INSERT INTO documents (id, sender, title, doc_no, sha256, envelope, command_id,"
            " sent_at, sent_exchange_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document.id,
                document.sender,
                document.title,
                document.doc_no,
                document.sha256,
                document.envelope,
                command_id,
                document.sent_at,
                document.sent_exchange_date,
            ),
        )
        self.record_event(
            "accepted",
            doc_id=document.id,
            unit=document.sender,
            at=document.sent_at,
            sha256=document.sha256.hex(),
            # The sealed envelope names the recipients and their quotas: one event binds them
            # all, rather than one per recipient (a circular goes to thousands).
            envelope_sha256=hashlib.sha256(document.envelope).hexdigest(),
            doc_no=document.doc_no,
            command=command_id,
        )

    def insert_delivery(
        self, doc_id: str, recipient: str, role: str, print_quota: int, arrangement: str = ""
    ) -> None:
        self._db.execute(
            "INSERT INTO deliveries (doc_id, recipient, role, print_quota, state,"
            " sent_arrangement) VALUES (?, ?, ?, ?, ?, ?)",
            (doc_id, recipient, role, print_quota, DeliveryState.QUEUED, arrangement),
        )

    def delivery(self, doc_id: str, recipient: str) -> Delivery | None:
        row = self._db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE doc_id = ? AND recipient = ?",
            (doc_id, recipient),
        ).fetchone()
        return Delivery(*row) if row else None

    def deliveries(self, doc_id: str) -> list[Delivery]:
        rows = self._db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE doc_id = ? ORDER BY rowid",
            (doc_id,),
        ).fetchall()
        return [Delivery(*row) for row in rows]

    def sender_person(self, doc_id: str) -> str:
        row = self._db.execute(
            "SELECT c.person FROM documents d"
            " JOIN commands c ON c.unit = d.sender AND c.id = d.command_id WHERE d.id = ?",
            (doc_id,),
        ).fetchone()
        return str(row[0] or "") if row is not None else ""

    def delivery_acts(self, doc_id: str) -> list[DeliveryAct]:
        rows = self._db.execute(
            "SELECT recipient, act, person, at, first_copy, last_copy FROM delivery_acts"
            " WHERE doc_id = ? ORDER BY seq",
            (doc_id,),
        ).fetchall()
        return [DeliveryAct(*row) for row in rows]

    def credential_used(self, key_id: str, at: str) -> None:
        self._db.execute(
            "UPDATE person_credentials SET first_used_at = ?"
            " WHERE key_id = ? AND first_used_at IS NULL",
            (at, key_id),
        )

    def record_act(self, doc_id: str, act: DeliveryAct) -> None:
        self._db.execute(
            "INSERT INTO delivery_acts (doc_id, recipient, act, person, at, first_copy, last_copy)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc_id, act.recipient, act.act, act.person, act.at, act.first_copy, act.last_copy),
        )

    def mark_delivered(self, doc_id: str, recipient: str, at: str) -> bool:
        """Returns False when the delivery was not waiting to be delivered (a republish)."""
        cursor = self._db.execute(
            "UPDATE deliveries SET delivered_at = ?,"
            " state = CASE WHEN received_at IS NULL THEN ? ELSE ? END"
            f" WHERE doc_id = ? AND recipient = ? AND {_TO_DELIVERED}",
            (at, DeliveryState.DELIVERED, DeliveryState.RECEIVED, doc_id, recipient),
        )
        if cursor.rowcount != 1:
            return False
        self.record_event("delivered", doc_id=doc_id, unit=recipient, at=at)
        return True

    def mark_received(
        self, doc_id: str, recipient: str, at: str, exchange_date: str, arrangement: str = ""
    ) -> bool:
        """Receipt time is set once, by the first receipt (§37); returns whether this was it."""
        cursor = self._db.execute(
            "UPDATE deliveries SET state = ?, received_at = ?, received_exchange_date = ?,"
            " received_arrangement = ?"
            " WHERE doc_id = ? AND recipient = ? AND received_at IS NULL"
            f" AND {_TO_RECEIVED}",
            (DeliveryState.RECEIVED, at, exchange_date, arrangement, doc_id, recipient),
        )
        if cursor.rowcount != 1:
            return False
        under = {"arrangement": arrangement} if arrangement else {}
        self.record_event(
            "received", doc_id=doc_id, unit=recipient, at=at, exchange_date=exchange_date, **under
        )
        return True

    # Out-of-hours arrangements (§30, §33).

    def insert_arrangement(self, arrangement: Arrangement) -> None:
        self._db.execute(
            f"INSERT INTO arrangements ({_ARRANGEMENT_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                arrangement.id,
                arrangement.kind,
                arrangement.sender,
                arrangement.recipient,
                arrangement.doc_no,
                arrangement.day.isoformat(),
                arrangement.until.strftime("%H:%M"),
                arrangement.state,
                arrangement.proposed_at,
                arrangement.proposed_by,
                arrangement.answered_at,
                arrangement.answered_by,
            ),
        )
        self.record_event(
            "arrangement_proposed",
            unit=arrangement.proposer,
            at=arrangement.proposed_at,
            id=arrangement.id,
            kind=arrangement.kind,
            sender=arrangement.sender,
            recipient=arrangement.recipient,
            doc_no=arrangement.doc_no,
            day=arrangement.day.isoformat(),
            until=arrangement.until.strftime("%H:%M"),
            by=arrangement.proposed_by,
        )

    def arrangement(self, arrangement_id: str) -> Arrangement | None:
        row = self._db.execute(
            f"SELECT {_ARRANGEMENT_COLUMNS} FROM arrangements WHERE id = ?", (arrangement_id,)
        ).fetchone()
        return _arrangement(row) if row else None

    def arrangements_on(self, day: str, sender: str) -> list[Arrangement]:
        rows = self._db.execute(
            f"SELECT {_ARRANGEMENT_COLUMNS} FROM arrangements WHERE sender = ? AND day = ?"
            " ORDER BY id",
            (sender, day),
        ).fetchall()
        return [_arrangement(row) for row in rows]

    def answer_arrangement(self, arrangement_id: str, state: str, at: str, by: str) -> bool:
        cursor = self._db.execute(
            "UPDATE arrangements SET state = ?, answered_at = ?, answered_by = ?"
            " WHERE id = ? AND state = ?",
            (state, at, by, arrangement_id, PROPOSED),
        )
        if cursor.rowcount != 1:
            return False
        answered = self.arrangement(arrangement_id)
        assert answered is not None
        self.record_event(
            f"arrangement_{state}", unit=answered.counterpart, at=at, id=arrangement_id, by=by
        )
        return True

    def move(self, doc_id: str, recipient: str, to: DeliveryState) -> bool:
        """Move the delivery to a state that carries nothing else, only from a state the table
        allows (docex/core/states.py); returns whether it moved. Compare-and-set: a state
        changed since the caller read it is never overwritten. Moves that set more than the
        state are `mark_delivered`, `mark_received` and `requeue`."""
        if to in (DeliveryState.QUEUED, DeliveryState.DELIVERED, DeliveryState.RECEIVED):
            raise ValueError(f"moving to {to} sets more than the state")
        # A receipt time, once set, stays: such a delivery can no longer be taken away.
        unreceived = " AND received_at IS NULL" if to in TAKEN_AWAY else ""
        cursor = self._db.execute(
            "UPDATE deliveries SET state = ? WHERE doc_id = ? AND recipient = ?"
            f" AND {_state_in(sources(to))}{unreceived}",
            (to, doc_id, recipient),
        )
        if cursor.rowcount != 1:
            return False
        self.record_event(str(to), doc_id=doc_id, unit=recipient)
        return True

    def add_printed(self, doc_id: str, recipient: str, copies: int, printed_before: int) -> bool:
        """Count printed copies, numbered on from `printed_before` (what the caller read);
        refused (False, nothing counted) past the quota or when another print was counted
        since the read, so two prints can never be given the same copy numbers."""
        cursor = self._db.execute(
            "UPDATE deliveries SET printed = printed + ?"
            " WHERE doc_id = ? AND recipient = ? AND printed = ? AND printed + ? <= print_quota",
            (copies, doc_id, recipient, printed_before, copies),
        )
        if cursor.rowcount != 1:
            return False
        self.record_event(
            "printed",
            doc_id=doc_id,
            unit=recipient,
            copies=[printed_before + 1, printed_before + copies],
        )
        return True

    def add_quota(self, doc_id: str, recipient: str, copies: int) -> None:
        self._db.execute(
            "UPDATE deliveries SET print_quota = print_quota + ?"
            " WHERE doc_id = ? AND recipient = ?",
            (copies, doc_id, recipient),
        )
        self.record_event("quota_added", doc_id=doc_id, unit=recipient, copies=copies)

    def requeue(self, doc_id: str, recipient: str) -> int | None:
        """Deliver again, as the next attempt; returns its number, or None when the delivery
        was in no state a resend may take it from."""
        rows = self._db.execute(
            "UPDATE deliveries SET state = ?, attempt = attempt + 1"
            f" WHERE doc_id = ? AND recipient = ? AND {_TO_QUEUED} RETURNING attempt",
            (DeliveryState.QUEUED, doc_id, recipient),
        ).fetchall()
        if not rows:
            return None
        attempt = int(rows[0][0])
        self.record_event("resent", doc_id=doc_id, unit=recipient, attempt=attempt)
        return attempt

    def mark_attachments_received(self, doc_id: str, recipient: str, at: str) -> None:
        self._db.execute(
            "UPDATE deliveries SET attachments_received_at = ?"
            " WHERE doc_id = ? AND recipient = ? AND attachments_received_at IS NULL",
            (at, doc_id, recipient),
        )

    def enqueue(
        self,
        routing_key: str,
        message_id: str,
        type_: str,
        body: bytes | None = None,
        doc_id: str | None = None,
        recipient: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO outbox (routing_key, message_id, type, body, doc_id, recipient)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (routing_key, message_id, type_, body, doc_id, recipient),
        )

    def outbox_batch(
        self,
        limit: int,
        held: Collection[str] = (),
        only: Callable[[str], bool] | None = None,
    ) -> list[OutboxRow]:
        """Up to `limit` rows, shared out evenly among the destinations that have any (each
        one's oldest first), leaving out the `held` destinations: a backlog for one unit takes
        its share of the batch, or all of it when nobody else waits. Returned in the order
        they were enqueued, which is each destination's own order.

        Both reads walk the index by destination, so a pass costs the same whatever the
        backlog (a window over the whole outbox took 17 ms a pass at 10,000 rows)."""
        skipped = set(held)
        destinations = [
            key
            for (key,) in self._db.execute(
                # The distinct destinations, one index lookup each.
                "WITH RECURSIVE destination(key) AS ("
                " SELECT min(routing_key) FROM outbox"
                " UNION ALL SELECT (SELECT min(routing_key) FROM outbox WHERE routing_key > key)"
                " FROM destination WHERE key IS NOT NULL)"
                " SELECT key FROM destination WHERE key IS NOT NULL"
            ).fetchall()
            if key not in skipped and (only is None or only(key))
        ][:limit]
        if not destinations:
            return []
        share, extra = divmod(limit, len(destinations))
        rows = []
        for index, key in enumerate(destinations):
            rows += self._db.execute(
                "SELECT seq, routing_key, message_id, type, body, doc_id, recipient FROM outbox"
                " WHERE routing_key = ? ORDER BY seq LIMIT ?",
                (key, share + (1 if index < extra else 0)),
            ).fetchall()
        return sorted((OutboxRow(*row) for row in rows), key=lambda row: row.seq)

    def set_aside(self, row: OutboxRow, reason: str, error: str, at: str) -> None:
        """Move a row the broker will never take out of the outbox (see `outbox_dead`)."""
        self._db.execute(
            "INSERT INTO outbox_dead (seq, routing_key, message_id, type, body, doc_id,"
            " recipient, reason, error, dead_at)"
            " SELECT seq, routing_key, message_id, type, body, doc_id, recipient, ?, ?, ?"
            " FROM outbox WHERE seq = ?",
            (reason, error, at, row.seq),
        )
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (row.seq,))

    def dead_outbox_rows(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM outbox_dead").fetchone()
        return int(count)

    def outbox_depth(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def pending_for(self, recipient: str) -> list[Delivery]:
        """Deliveries to this unit that it has not received yet."""
        rows = self._db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE recipient = ?"
            f" AND received_at IS NULL AND {_BEFORE_RECEIPT} ORDER BY rowid",
            (recipient,),
        ).fetchall()
        return [Delivery(*row) for row in rows]

    def record_unit_name(self, unit_id: str, old_name: str, new_name: str, at: str) -> None:
        """§9(一): a renamed unit keeps its id; its former names stay on record."""
        self._db.execute(
            "INSERT INTO unit_names (unit_id, old_name, new_name, changed_at) VALUES (?, ?, ?, ?)",
            (unit_id, old_name, new_name, at),
        )
        self.record_event("unit_renamed", unit=unit_id, at=at, old=old_name, new=new_name)

    def unit_names(self, unit_id: str) -> list[tuple[str, str, str]]:
        return self._db.execute(
            "SELECT old_name, new_name, changed_at FROM unit_names WHERE unit_id = ?"
            " ORDER BY rowid",
            (unit_id,),
        ).fetchall()

    def deliveries_by_state(self) -> list[tuple[str, int]]:
        """Every state a delivery has been in, with how many are in it now (0 included, so a
        Prometheus series drops to 0 rather than vanishing)."""
        return self._db.execute(
            "SELECT state, count FROM delivery_states ORDER BY state"
        ).fetchall()

    def pending_receipts(self) -> list[tuple[str, int]]:
        return self._db.execute(
            "SELECT recipient, count(*) FROM deliveries WHERE received_at IS NULL"
            f" AND {_BEFORE_RECEIPT} GROUP BY recipient ORDER BY recipient",
        ).fetchall()

    def remove_from_outbox(self, seqs: list[int]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])

    # SMS reminders (§16).

    def queue_sms(self, unit: str, name: str, mobile: str, text: str, at: str) -> None:
        self._db.execute(
            "INSERT INTO sms_outbox (unit, name, mobile, text, created_at) VALUES (?, ?, ?, ?, ?)",
            (unit, name, mobile, text, at),
        )

    def sms_numbers_waiting(self) -> list[str]:
        """The numbers with reminders waiting, the longest-waiting first."""
        rows = self._db.execute(
            "SELECT mobile FROM sms_outbox GROUP BY mobile ORDER BY min(seq)"
        ).fetchall()
        return [str(mobile) for (mobile,) in rows]

    def sms_waiting_for(self, mobile: str) -> list[SmsRow]:
        rows = self._db.execute(
            "SELECT seq, unit, name, mobile, text, created_at FROM sms_outbox"
            " WHERE mobile = ? ORDER BY seq",
            (mobile,),
        ).fetchall()
        return [SmsRow(*row) for row in rows]

    def sms_depth(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM sms_outbox").fetchone()
        return int(count)

    def sms_sent_since(self, mobile: str, since: float) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM sms_sent WHERE mobile = ? AND sent_at > ?", (mobile, since)
        ).fetchone()
        return int(count)

    def sms_gone(self, text_id: str, mobile: str, at: float, seqs: list[int]) -> None:
        """The gateway's broker has the text: its reminders leave the outbox, and it counts
        against the number's allowance. A day of history is kept, for operators to look at."""
        self._db.execute(
            "INSERT INTO sms_sent (id, mobile, sent_at, reminders) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (text_id, mobile, at, len(seqs)),
        )
        self._db.executemany("DELETE FROM sms_outbox WHERE seq = ?", [(seq,) for seq in seqs])
        self._db.execute("DELETE FROM sms_sent WHERE sent_at < ?", (at - 86400,))

    # Link watch (§46, §47).

    def heard_from(self, unit: str, at: str, heartbeat: bool) -> None:
        self._db.execute(
            "INSERT INTO links (unit, last_seen_at, heartbeats) VALUES (?, ?, ?)"
            " ON CONFLICT (unit) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
            " heartbeats = CASE WHEN excluded.heartbeats > links.heartbeats"
            " THEN excluded.heartbeats ELSE links.heartbeats END",
            (unit, at, int(heartbeat)),
        )

    def link(self, unit: str) -> Link | None:
        row = self._db.execute(
            "SELECT unit, last_seen_at, heartbeats FROM links WHERE unit = ?", (unit,)
        ).fetchone()
        return Link(row[0], row[1], bool(row[2])) if row else None

    def oldest_untaken(self, unit: str, since: str | None) -> str | None:
        """When the oldest delivery still untaken by this unit, and delivered after `since`,
        was delivered. Compared as instants: stamps carry their UTC offset."""
        (oldest,) = self._db.execute(
            "SELECT delivered_at FROM deliveries WHERE recipient = ? AND state = ?"
            " AND received_at IS NULL"
            " AND (CAST(? AS TEXT) IS NULL"
            f" OR {self._instant('delivered_at')} > {self._instant('?')})"
            f" ORDER BY {self._instant('delivered_at')} LIMIT 1",
            (unit, DeliveryState.DELIVERED, since, since),
        ).fetchone() or (None,)
        return oldest

    def start_fault(self, scope: str, kind: str, at: str, office_notified: bool) -> Fault:
        (fault_id,) = self._db.execute(
            "INSERT INTO faults (scope, kind, started_at, office_notified_at) VALUES (?, ?, ?, ?)"
            " RETURNING id",
            (scope, kind, at, at if office_notified else None),
        ).fetchone()
        fault = self.fault(int(fault_id))
        assert fault is not None
        return fault

    def end_fault(self, fault_id: int, at: str) -> None:
        self._db.execute("UPDATE faults SET ended_at = ? WHERE id = ?", (at, fault_id))

    def mark_paper_issued(self, fault_id: int, at: str) -> None:
        self._db.execute("UPDATE faults SET paper_issued_at = ? WHERE id = ?", (at, fault_id))

    def fault(self, fault_id: int) -> Fault | None:
        row = self._db.execute(f"SELECT {_FAULT_COLUMNS} FROM faults WHERE id = ?", (fault_id,))
        found = row.fetchone()
        return Fault(*found) if found else None

    def open_fault(self, scope: str) -> Fault | None:
        row = self._db.execute(
            f"SELECT {_FAULT_COLUMNS} FROM faults WHERE scope = ? AND ended_at IS NULL", (scope,)
        ).fetchone()
        return Fault(*row) if row else None

    def open_faults(self) -> list[Fault]:
        rows = self._db.execute(
            f"SELECT {_FAULT_COLUMNS} FROM faults WHERE ended_at IS NULL ORDER BY id"
        ).fetchall()
        return [Fault(*row) for row in rows]

    def faults(self) -> list[Fault]:
        rows = self._db.execute(f"SELECT {_FAULT_COLUMNS} FROM faults ORDER BY id").fetchall()
        return [Fault(*row) for row in rows]

    def last_ended(self, scope: str) -> str | None:
        (ended,) = self._db.execute(
            "SELECT ended_at FROM faults WHERE scope = ? AND ended_at IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (scope,),
        ).fetchone() or (None,)
        return ended

    def add_notice(
        self,
        fault_id: int,
        unit: str,
        path: str,
        at: str,
        doc_ids: list[str],
        pdf: bytes | None = None,
    ) -> int:
        (notice_id,) = self._db.execute(
            "INSERT INTO notices (fault_id, unit, path, created_at, pdf) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            (fault_id, unit, path, at, pdf),
        ).fetchone()
        self._db.executemany(
            "INSERT INTO notice_documents (notice_id, doc_id) VALUES (?, ?)",
            [(notice_id, doc_id) for doc_id in doc_ids],
        )
        for doc_id in doc_ids:
            self.record_event(
                "paper_notice", doc_id=doc_id, unit=unit, at=at, notice=int(notice_id), path=path
            )
        return int(notice_id)

    def notice_pdf(self, notice_id: int) -> bytes | None:
        row = self._db.execute("SELECT pdf FROM notices WHERE id = ?", (notice_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def notices(self, fault_id: int | None = None, unit: str | None = None) -> list[NoticeRecord]:
        rows = self._db.execute(
            "SELECT id, fault_id, unit, path, created_at FROM notices"
            " WHERE (CAST(? AS BIGINT) IS NULL OR fault_id = ?)"
            " AND (CAST(? AS TEXT) IS NULL OR unit = ?) ORDER BY id",
            (fault_id, fault_id, unit, unit),
        ).fetchall()
        return [NoticeRecord(*row) for row in rows]

    def notice(self, notice_id: int) -> NoticeRecord | None:
        row = self._db.execute(
            "SELECT id, fault_id, unit, path, created_at FROM notices WHERE id = ?", (notice_id,)
        ).fetchone()
        return NoticeRecord(*row) if row else None

    def notice_documents(self, notice_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT doc_id FROM notice_documents WHERE notice_id = ? ORDER BY rowid",
            (notice_id,),
        ).fetchall()
        return [doc_id for (doc_id,) in rows]

    def insert_info(
        self, info: StoredInfo, recipients: list[str], period: str = "", part: str = ""
    ) -> None:
        self._db.execute(
            "INSERT INTO info_items (id, kind, sender, item, created_at, period, part, deadline)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                info.id,
                info.kind,
                info.sender,
                info.item,
                info.created_at,
                period,
                part,
                info.deadline,
            ),
        )
        self._db.executemany(
            "INSERT INTO info_recipients (info_id, recipient) VALUES (?, ?)",
            [(info.id, recipient) for recipient in recipients],
        )

    def info(self, info_id: str) -> StoredInfo | None:
        row = self._db.execute(
            f"SELECT {_INFO_COLUMNS} FROM info_items WHERE id = ?", (info_id,)
        ).fetchone()
        return StoredInfo(*row) if row else None

    def info_recipients(self, info_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT recipient FROM info_recipients WHERE info_id = ? ORDER BY rowid", (info_id,)
        ).fetchall()
        return [str(recipient) for (recipient,) in rows]

    def mark_info(self, info_id: str, column: str, at: str) -> None:
        """Set one of the item's once-only times: replied_at, delay_explained_at, overdue_at
        or adopted_at."""
        assert column in ("replied_at", "delay_explained_at", "overdue_at", "adopted_at")
        self._db.execute(f"UPDATE info_items SET {column} = ? WHERE id = ?", (at, info_id))

    def filed_parts(self, unit: str, period: str) -> dict[str, str]:
        """The work-update parts a unit filed for a period, each with when it was first filed."""
        rows = self._db.execute(
            "SELECT part, min(created_at) FROM info_items"
            " WHERE kind = 'update' AND sender = ? AND period = ? GROUP BY part",
            (unit, period),
        ).fetchall()
        return {str(part): str(at) for part, at in rows}

    def requests_past_deadline(self, now: str) -> list[StoredInfo]:
        """Requests whose deadline passed with no reply in time, no explained delay, and no flag
        yet. A reply after the deadline does not undo the lateness, however soon it came."""
        rows = self._db.execute(
            f"SELECT {_INFO_COLUMNS} FROM info_items WHERE kind = 'request' AND deadline != ''"
            " AND deadline < ? AND (replied_at IS NULL OR replied_at > deadline)"
            " AND delay_explained_at IS NULL"
            " AND overdue_at IS NULL ORDER BY created_at",
            (now,),
        ).fetchall()
        return [StoredInfo(*row) for row in rows]

    def flag_once(self, unit: str, subject: str, what: str, at: str) -> bool:
        """Record a reminder or flag; False when it was already sent."""
        cursor = self._db.execute(
            "INSERT INTO info_flags (unit, subject, what, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (unit, subject, what, at),
        )
        return cursor.rowcount == 1

    # The statistics of `docex report` (docex/router/report.py). `period` is a date prefix of local
    # stamps and exchange dates: "2026" or "2026-03".

    def deliveries_sent_in(self, period: str) -> list[tuple[str, str, str, str, str, str | None]]:
        """(doc_id, sender, recipient, state, sent_exchange_date, received_exchange_date) of
        every delivery of the documents sent in the period."""
        rows = self._db.execute(
            "SELECT doc_id, sender, recipient, state, sent_exchange_date, received_exchange_date"
            " FROM deliveries JOIN documents ON documents.id = deliveries.doc_id"
            " WHERE sent_exchange_date LIKE ? ORDER BY deliveries.rowid",
            (f"{period}%",),
        ).fetchall()
        return [tuple(row) for row in rows]

    def received_in(self, period: str) -> dict[str, int]:
        """Deliveries received in the period, by recipient."""
        rows = self._db.execute(
            "SELECT recipient, count(*) FROM deliveries WHERE received_exchange_date LIKE ?"
            " GROUP BY recipient",
            (f"{period}%",),
        ).fetchall()
        return {str(unit): int(count) for unit, count in rows}

    def commands_accepted_in(self, type_: str, period: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT unit, count(*) FROM commands WHERE type = ? AND outcome = 'accepted'"
            " AND received_at LIKE ? GROUP BY unit",
            (type_, f"{period}%"),
        ).fetchall()
        return {str(unit): int(count) for unit, count in rows}

    def info_sent_in(self, period: str) -> list[tuple[str, str, str | None]]:
        """(sender, kind, adopted_at) of the information items sent in the period."""
        rows = self._db.execute(
            "SELECT sender, kind, adopted_at FROM info_items WHERE created_at LIKE ?",
            (f"{period}%",),
        ).fetchall()
        return [tuple(row) for row in rows]

    def requests_overdue_in(self, period: str) -> dict[str, int]:
        """Requests that went overdue in the period, by the unit that was to handle them."""
        rows = self._db.execute(
            "SELECT recipient, count(*) FROM info_items"
            " JOIN info_recipients ON info_recipients.info_id = info_items.id"
            " WHERE overdue_at LIKE ? GROUP BY recipient",
            (f"{period}%",),
        ).fetchall()
        return {str(unit): int(count) for unit, count in rows}


def _state_in(states: Collection[DeliveryState]) -> str:
    return "state IN (" + ", ".join(f"'{state.value}'" for state in sorted(states)) + ")"


_TO_DELIVERED = _state_in(sources(DeliveryState.DELIVERED))
_TO_RECEIVED = _state_in(sources(DeliveryState.RECEIVED))
_TO_QUEUED = _state_in(sources(DeliveryState.QUEUED))
_BEFORE_RECEIPT = _state_in(BEFORE_RECEIPT)

_FAULT_COLUMNS = "id, scope, kind, started_at, ended_at, office_notified_at, paper_issued_at"
_DELIVERY_COLUMNS = (
    "doc_id, recipient, role, print_quota, printed, state, attempt,"
    " delivered_at, received_at, received_exchange_date, attachments_received_at,"
    " sent_arrangement, received_arrangement"
)
_ARRANGEMENT_COLUMNS = (
    "id, kind, sender, recipient, doc_no, day, until_time, state,"
    " proposed_at, proposed_by, answered_at, answered_by"
)


def _arrangement(row: Sequence[Any]) -> Arrangement:
    return Arrangement(
        id=row[0],
        kind="send" if row[1] == "send" else "receive",
        sender=row[2],
        recipient=row[3],
        doc_no=row[4],
        day=date.fromisoformat(row[5]),
        until=time.fromisoformat(row[6]),
        state=row[7],
        proposed_at=row[8],
        proposed_by=row[9],
        answered_at=row[10],
        answered_by=row[11],
    )


def _person(row: Sequence[Any]) -> PersonRecord:
    return PersonRecord(
        unit=row[0],
        name=row[1],
        chinese_name=row[2],
        roles=[role for role in str(row[3]).split(",") if role],
        mobile=row[4],
        status=row[5],
        system=bool(row[6]),
        key_id=row[7],
        public_key=bytes(row[8]),
        created_at=row[9],
        changed_at=row[10],
        changed_by=row[11],
    )
