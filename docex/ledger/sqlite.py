"""The ledger: everything the exchange has accepted, sent and been told, in one SQLite file.

A command's effects and the messages it must publish are written in one transaction (the
transactional outbox), so a crash at any point loses nothing. The router is the only writer;
WAL mode lets operators' read-only tools look at the file while it runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from docex.core.states import BEFORE_RECEIPT, TAKEN_AWAY, DeliveryState, sources
from docex.ledger.receipt_reminders import ReceiptReminderReads
from docex.ledger.records import (
    Delivery,
    Fault,
    Link,
    NoticeRecord,
    OutboxRow,
    SmsRow,
    StoredDocument,
    StoredInfo,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (
    sha256 BLOB PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    title TEXT NOT NULL,
    doc_no TEXT NOT NULL,
    sha256 BLOB NOT NULL REFERENCES contents(sha256),
    envelope BLOB NOT NULL,
    command_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    sent_exchange_date TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    doc_id TEXT NOT NULL REFERENCES documents(id),
    recipient TEXT NOT NULL,
    role TEXT NOT NULL,
    print_quota INTEGER NOT NULL,
    printed INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    delivered_at TEXT,
    received_at TEXT,
    received_exchange_date TEXT,
    attachments_received_at TEXT,
    PRIMARY KEY (doc_id, recipient)
);
-- What units have yet to take in: small however long the ledger grows, so the link watch and
-- the metrics scrape do not read every delivery ever made.
CREATE INDEX IF NOT EXISTS deliveries_untaken ON deliveries (recipient, state)
    WHERE received_at IS NULL;
-- How many deliveries are in each state, kept by triggers in the very transactions that change
-- a state, so the metrics scrape reads a few rows instead of counting every delivery ever
-- made. A ledger from before the table is counted once, before the triggers exist.
CREATE TABLE IF NOT EXISTS delivery_states (
    state TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
INSERT INTO delivery_states (state, count)
    SELECT state, count(*) FROM deliveries
    WHERE NOT EXISTS (SELECT 1 FROM delivery_states) GROUP BY state;
CREATE TRIGGER IF NOT EXISTS delivery_state_added AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_states (state, count) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER IF NOT EXISTS delivery_state_changed AFTER UPDATE OF state ON deliveries
    WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE delivery_states SET count = count - 1 WHERE state = OLD.state;
    INSERT INTO delivery_states (state, count) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET count = count + 1;
END;
CREATE TABLE IF NOT EXISTS commands (
    id TEXT NOT NULL,
    unit TEXT NOT NULL,
    type TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (unit, id)
);
CREATE TABLE IF NOT EXISTS unit_names (
    unit_id TEXT NOT NULL,
    old_name TEXT NOT NULL,
    new_name TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    routing_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body BLOB,
    doc_id TEXT,
    recipient TEXT
);
-- The publisher takes each destination's oldest rows in turn (docex/router/outbox.py).
CREATE INDEX IF NOT EXISTS outbox_by_destination ON outbox (routing_key, seq);
-- Outbox rows the broker can never take (too large, an invalid property, no queue even after
-- declaring it again): set aside so they stop nobody else, and kept for the operator.
CREATE TABLE IF NOT EXISTS outbox_dead (
    seq INTEGER PRIMARY KEY,
    routing_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body BLOB,
    doc_id TEXT,
    recipient TEXT,
    reason TEXT NOT NULL,
    error TEXT NOT NULL,
    dead_at TEXT NOT NULL
);
-- The last time each unit was heard from (a heartbeat or any command), and whether it has
-- ever sent a heartbeat: only units that have are watched by heartbeat (docex/router/linkwatch.py).
CREATE TABLE IF NOT EXISTS links (
    unit TEXT PRIMARY KEY,
    last_seen_at TEXT NOT NULL,
    heartbeats INTEGER NOT NULL DEFAULT 0
);
-- Link faults (§46): scope is a unit id, or '*' when the exchange itself is down. Kept here so
-- a restart does not reset the 24-hour clock of §47.
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    office_notified_at TEXT,
    paper_issued_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS faults_one_open ON faults (scope) WHERE ended_at IS NULL;
-- Paper notices (§47): one printable PDF for one unit, and the deliveries it lists.
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fault_id INTEGER NOT NULL REFERENCES faults(id),
    unit TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notice_documents (
    notice_id INTEGER NOT NULL REFERENCES notices(id),
    doc_id TEXT NOT NULL,
    PRIMARY KEY (notice_id, doc_id)
);
-- Information items (§39-§45), kept as delivered (`item`: an encoded wire.InfoItem). Work
-- updates carry period and part; requests their deadline (a stamp in exchange local time, so
-- stamps compare as strings) and what became of them.
CREATE TABLE IF NOT EXISTS info_items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    item BLOB NOT NULL,
    created_at TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT '',
    part TEXT NOT NULL DEFAULT '',
    deadline TEXT NOT NULL DEFAULT '',
    replied_at TEXT,
    delay_explained_at TEXT,
    overdue_at TEXT,
    adopted_at TEXT
);
CREATE TABLE IF NOT EXISTS info_recipients (
    info_id TEXT NOT NULL REFERENCES info_items(id),
    recipient TEXT NOT NULL,
    PRIMARY KEY (info_id, recipient)
);
-- Reminders and late flags already sent (docex/router/info_watch.py), so each goes out once.
CREATE TABLE IF NOT EXISTS info_flags (
    unit TEXT NOT NULL,
    subject TEXT NOT NULL,
    what TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (unit, subject, what)
);
-- SMS reminders (§16) waiting for the gateway or for their number's hourly allowance
-- (docex/router/sms.py), one row per text and number; and what went out, for that allowance.
CREATE TABLE IF NOT EXISTS sms_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    name TEXT NOT NULL,
    mobile TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_outbox_by_mobile ON sms_outbox (mobile, seq);
CREATE TABLE IF NOT EXISTS sms_sent (
    id TEXT PRIMARY KEY,
    mobile TEXT NOT NULL,
    -- Unix time: the allowance counts the last hour whatever the time zone.
    sent_at REAL NOT NULL,
    reminders INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_sent_by_mobile ON sms_sent (mobile, sent_at);
-- One row, rewritten every few seconds (docex/router/ledger_health.py): the router is ready only
-- while such a commit gets through.
CREATE TABLE IF NOT EXISTS liveness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
"""


_INFO_COLUMNS = (
    "id, kind, sender, item, created_at, deadline, replied_at, delay_explained_at,"
    " overdue_at, adopted_at"
)


class SqliteLedger(ReceiptReminderReads):
    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        checkpoints: bool = True,
        waits_for_locks: bool = True,
    ) -> None:
        """`waits_for_locks=False`: a write that finds the ledger locked raises at once instead
        of waiting up to 5 s in the calling thread (docex/router/ledger_health.py)."""
        if read_only:
            # For operators' tools beside a running router: no writes, and nothing created.
            if not path.is_file():
                raise sqlite3.OperationalError(f"no ledger at {path}")
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path,
            timeout=5.0 if waits_for_locks else 0.0,
            isolation_level=None,
            check_same_thread=False,
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the router has acked a message for must survive power loss.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if not checkpoints:
            # docex/ledger/checkpoint.py does them, off the event loop.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[None]:
        """`durable=False` commits without waiting for the disk, for bookkeeping that is
        redone if lost: a power cut may undo such a commit (and only together with whatever
        came after it and before the next durable commit, which makes them all durable)."""
        if not durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite may or may not have rolled back already after an error such as a full
                # disk; a transaction left open would refuse every later BEGIN.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo one command's partial effects without losing the rest of its batch."""
        self._db.execute("SAVEPOINT command")
        try:
            yield
        except BaseException:
            # Unless SQLite rolled the whole transaction back (a full disk, an I/O error).
            if self._db.in_transaction:
                self._db.execute("ROLLBACK TO command")
                self._db.execute("RELEASE command")
            raise
        self._db.execute("RELEASE command")

    def record_liveness(self, at: str) -> None:
        self._db.execute(
            "INSERT INTO liveness (id, at) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            (at,),
        )

    def command_seen(self, unit: str, command_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM commands WHERE unit = ? AND id = ?", (unit, command_id)
        ).fetchone()
        return row is not None

    def record_command(
        self, command_id: str, unit: str, type_: str, at: str, outcome: str, reason: str = ""
    ) -> None:
        self._db.execute(
            "INSERT INTO commands (id, unit, type, received_at, outcome, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (command_id, unit, type_, at, outcome, reason),
        )

    def document(self, doc_id: str) -> StoredDocument | None:
        row = self._db.execute(
            "SELECT id, sender, title, doc_no, sha256, envelope, sent_at, sent_exchange_date"
            " FROM documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        return StoredDocument(*row) if row else None

    def content(self, sha256: bytes) -> bytes:
        (body,) = self._db.execute(
            "SELECT body FROM contents WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return bytes(body)

    def insert_document(self, document: StoredDocument, content: bytes, command_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO contents (sha256, body) VALUES (?, ?)",
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

    def insert_delivery(self, doc_id: str, recipient: str, role: str, print_quota: int) -> None:
        self._db.execute(
            "INSERT INTO deliveries (doc_id, recipient, role, print_quota, state)"
            " VALUES (?, ?, ?, ?, ?)",
            (doc_id, recipient, role, print_quota, DeliveryState.QUEUED),
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

    def mark_delivered(self, doc_id: str, recipient: str, at: str) -> bool:
        """Returns False when the delivery was not waiting to be delivered (a republish)."""
        cursor = self._db.execute(
            "UPDATE deliveries SET delivered_at = ?,"
            " state = CASE WHEN received_at IS NULL THEN ? ELSE ? END"
            " WHERE doc_id = ? AND recipient = ? AND state IN (SELECT value FROM json_each(?))",
            (
                at,
                DeliveryState.DELIVERED,
                DeliveryState.RECEIVED,
                doc_id,
                recipient,
                _states(sources(DeliveryState.DELIVERED)),
            ),
        )
        return cursor.rowcount == 1

    def mark_received(self, doc_id: str, recipient: str, at: str, exchange_date: str) -> bool:
        """Receipt time is set once, by the first receipt (§37); returns whether this was it."""
        cursor = self._db.execute(
            "UPDATE deliveries SET state = ?, received_at = ?, received_exchange_date = ?"
            " WHERE doc_id = ? AND recipient = ? AND received_at IS NULL"
            " AND state IN (SELECT value FROM json_each(?))",
            (
                DeliveryState.RECEIVED,
                at,
                exchange_date,
                doc_id,
                recipient,
                _states(sources(DeliveryState.RECEIVED)),
            ),
        )
        return cursor.rowcount == 1

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
            f" AND state IN (SELECT value FROM json_each(?)){unreceived}",
            (to, doc_id, recipient, _states(sources(to))),
        )
        return cursor.rowcount == 1

    def add_printed(self, doc_id: str, recipient: str, copies: int) -> bool:
        """Count printed copies; refused (False) if they would exceed the quota. One statement,
        so two requests racing for the last copy cannot both win."""
        cursor = self._db.execute(
            "UPDATE deliveries SET printed = printed + ?"
            " WHERE doc_id = ? AND recipient = ? AND printed + ? <= print_quota",
            (copies, doc_id, recipient, copies),
        )
        return cursor.rowcount == 1

    def add_quota(self, doc_id: str, recipient: str, copies: int) -> None:
        self._db.execute(
            "UPDATE deliveries SET print_quota = print_quota + ?"
            " WHERE doc_id = ? AND recipient = ?",
            (copies, doc_id, recipient),
        )

    def requeue(self, doc_id: str, recipient: str) -> int | None:
        """Deliver again, as the next attempt; returns its number, or None when the delivery
        was in no state a resend may take it from."""
        rows = self._db.execute(
            "UPDATE deliveries SET state = ?, attempt = attempt + 1"
            " WHERE doc_id = ? AND recipient = ? AND state IN (SELECT value FROM json_each(?))"
            " RETURNING attempt",
            (DeliveryState.QUEUED, doc_id, recipient, _states(sources(DeliveryState.QUEUED))),
        ).fetchall()
        return int(rows[0][0]) if rows else None

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

    def outbox_batch(self, limit: int, held: Collection[str] = ()) -> list[OutboxRow]:
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
            )
            if key not in skipped
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
            " AND received_at IS NULL AND state IN (SELECT value FROM json_each(?))"
            " ORDER BY rowid",
            (recipient, _states(BEFORE_RECEIPT)),
        ).fetchall()
        return [Delivery(*row) for row in rows]

    def record_unit_name(self, unit_id: str, old_name: str, new_name: str, at: str) -> None:
        """§9(一): a renamed unit keeps its id; its former names stay on record."""
        self._db.execute(
            "INSERT INTO unit_names (unit_id, old_name, new_name, changed_at) VALUES (?, ?, ?, ?)",
            (unit_id, old_name, new_name, at),
        )

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
            " AND state IN (SELECT value FROM json_each(?))"
            " GROUP BY recipient ORDER BY recipient",
            (_states(BEFORE_RECEIPT),),
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
            "INSERT OR IGNORE INTO sms_sent (id, mobile, sent_at, reminders) VALUES (?, ?, ?, ?)",
            (text_id, mobile, at, len(seqs)),
        )
        self._db.executemany("DELETE FROM sms_outbox WHERE seq = ?", [(seq,) for seq in seqs])
        self._db.execute("DELETE FROM sms_sent WHERE sent_at < ?", (at - 86400,))

    # Link watch (§46, §47).

    def heard_from(self, unit: str, at: str, heartbeat: bool) -> None:
        self._db.execute(
            "INSERT INTO links (unit, last_seen_at, heartbeats) VALUES (?, ?, ?)"
            " ON CONFLICT (unit) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
            " heartbeats = max(heartbeats, excluded.heartbeats)",
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
            " AND (? IS NULL OR julianday(delivered_at) > julianday(?))"
            " ORDER BY julianday(delivered_at) LIMIT 1",
            (unit, DeliveryState.DELIVERED, since, since),
        ).fetchone() or (None,)
        return oldest

    def start_fault(self, scope: str, kind: str, at: str, office_notified: bool) -> Fault:
        cursor = self._db.execute(
            "INSERT INTO faults (scope, kind, started_at, office_notified_at) VALUES (?, ?, ?, ?)",
            (scope, kind, at, at if office_notified else None),
        )
        fault = self.fault(int(cursor.lastrowid or 0))
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

    def add_notice(self, fault_id: int, unit: str, path: str, at: str, doc_ids: list[str]) -> int:
        cursor = self._db.execute(
            "INSERT INTO notices (fault_id, unit, path, created_at) VALUES (?, ?, ?, ?)",
            (fault_id, unit, path, at),
        )
        notice_id = int(cursor.lastrowid or 0)
        self._db.executemany(
            "INSERT INTO notice_documents (notice_id, doc_id) VALUES (?, ?)",
            [(notice_id, doc_id) for doc_id in doc_ids],
        )
        return notice_id

    def notices(self, fault_id: int | None = None, unit: str | None = None) -> list[NoticeRecord]:
        rows = self._db.execute(
            "SELECT id, fault_id, unit, path, created_at FROM notices"
            " WHERE (? IS NULL OR fault_id = ?) AND (? IS NULL OR unit = ?) ORDER BY id",
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
            "INSERT OR IGNORE INTO info_flags (unit, subject, what, at) VALUES (?, ?, ?, ?)",
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


def _states(states: frozenset[DeliveryState]) -> str:
    """A group of states as one SQL parameter, for `state IN (SELECT value FROM json_each(?))`."""
    return json.dumps(sorted(states))


_FAULT_COLUMNS = "id, scope, kind, started_at, ended_at, office_notified_at, paper_issued_at"
_DELIVERY_COLUMNS = (
    "doc_id, recipient, role, print_quota, printed, state, attempt,"
    " delivered_at, received_at, received_exchange_date, attachments_received_at"
)
