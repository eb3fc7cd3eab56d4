"""The ledger: everything the exchange has accepted, sent and been told, in one SQLite file.

A command's effects and the messages it must publish are written in one transaction (the
transactional outbox), so a crash at any point loses nothing. The router is the only writer;
WAL mode lets operators' read-only tools look at the file while it runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from docex import wire

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
"""


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


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the router has acked a message for must survive power loss.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo one command's partial effects without losing the rest of its batch."""
        self._db.execute("SAVEPOINT command")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO command")
            self._db.execute("RELEASE command")
            raise
        self._db.execute("RELEASE command")

    def check_writable(self) -> None:
        """Raises sqlite3.Error when the ledger cannot take a write lock (disk, permissions)."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("ROLLBACK")

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
            " VALUES (?, ?, ?, ?, 'queued')",
            (doc_id, recipient, role, print_quota),
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
            " state = CASE WHEN received_at IS NULL THEN 'delivered' ELSE 'received' END"
            " WHERE doc_id = ? AND recipient = ? AND state = 'queued'",
            (at, doc_id, recipient),
        )
        return cursor.rowcount == 1

    def mark_received(self, doc_id: str, recipient: str, at: str, exchange_date: str) -> bool:
        """Receipt time is set once, by the first receipt (§37); returns whether this was it."""
        cursor = self._db.execute(
            "UPDATE deliveries SET state = 'received', received_at = ?, received_exchange_date = ?"
            " WHERE doc_id = ? AND recipient = ? AND received_at IS NULL"
            " AND state IN ('queued', 'delivered', 'resend_requested')",
            (at, exchange_date, doc_id, recipient),
        )
        return cursor.rowcount == 1

    def set_state(self, doc_id: str, recipient: str, state: str) -> None:
        self._db.execute(
            "UPDATE deliveries SET state = ? WHERE doc_id = ? AND recipient = ?",
            (state, doc_id, recipient),
        )

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

    def requeue(self, doc_id: str, recipient: str) -> int:
        """Deliver again, as the next attempt; returns its number."""
        self._db.execute(
            "UPDATE deliveries SET state = 'queued', attempt = attempt + 1"
            " WHERE doc_id = ? AND recipient = ?",
            (doc_id, recipient),
        )
        (attempt,) = self._db.execute(
            "SELECT attempt FROM deliveries WHERE doc_id = ? AND recipient = ?",
            (doc_id, recipient),
        ).fetchone()
        return int(attempt)

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

    def outbox_batch(self, after_seq: int, limit: int) -> list[OutboxRow]:
        rows = self._db.execute(
            "SELECT seq, routing_key, message_id, type, body, doc_id, recipient FROM outbox"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def outbox_depth(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def pending_for(self, recipient: str) -> list[Delivery]:
        """Deliveries to this unit that it has not received yet."""
        rows = self._db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE recipient = ?"
            " AND received_at IS NULL AND state IN ('queued', 'delivered', 'resend_requested')"
            " ORDER BY rowid",
            (recipient,),
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
        return self._db.execute(
            "SELECT state, count(*) FROM deliveries GROUP BY state ORDER BY state"
        ).fetchall()

    def pending_receipts(self) -> list[tuple[str, int]]:
        return self._db.execute(
            "SELECT recipient, count(*) FROM deliveries WHERE received_at IS NULL"
            " AND state IN ('queued', 'delivered', 'resend_requested')"
            " GROUP BY recipient ORDER BY recipient"
        ).fetchall()

    def remove_from_outbox(self, seqs: list[int]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])


_DELIVERY_COLUMNS = (
    "doc_id, recipient, role, print_quota, printed, state, attempt,"
    " delivered_at, received_at, received_exchange_date, attachments_received_at"
)
