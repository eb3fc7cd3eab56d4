"""A unit's local record of everything the router sent it, in its own SQLite file.

A unit has one queue for everything (deliveries, answers, news), so whichever command reads
the queue first must keep what it finds for the others. Each message is written here before
it is acked, and a document delivered twice (a republish after a crash) is kept once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import msgspec

from docex import wire

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    doc_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    deliver BLOB NOT NULL,
    seal_error TEXT NOT NULL DEFAULT '',
    saved_path TEXT,
    receipt_sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    ref TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ref ON messages (ref);
CREATE TABLE IF NOT EXISTS withdrawn (
    doc_id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
-- Documents this unit sent, so that sending the same file again is recognised (a clerk who
-- saw no answer sends again). `submit` is the sealed command as first published: a send that
-- the broker never confirmed is published again byte for byte, with the same message id.
CREATE TABLE IF NOT EXISTS sent (
    doc_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    message_id TEXT NOT NULL,
    submit BLOB NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sent_fingerprint ON sent (fingerprint);
-- Documents `inbox` has shown a person: the next run shows only what is new.
CREATE TABLE IF NOT EXISTS shown (
    doc_id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
-- Documents a paper notice (§47) switched to paper: not to be taken in electronically.
CREATE TABLE IF NOT EXISTS paper (
    doc_id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class SentDocument:
    doc_id: str
    message_id: str
    submit: bytes
    confirmed: bool


@dataclass(frozen=True)
class StoredDelivery:
    deliver: wire.Deliver
    seal_error: str
    saved_path: str | None
    receipt_sent: bool
    withdrawn_at: str | None
    paper_at: str | None


class Mailbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add_delivery(
        self, message_id: str, deliver: wire.Deliver, body: bytes, seal_error: str
    ) -> bool:
        """Returns False for a document already in the mailbox."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO deliveries (doc_id, message_id, deliver, seal_error)"
            " VALUES (?, ?, ?, ?)",
            (deliver.envelope.id, message_id, body, seal_error),
        )
        return cursor.rowcount == 1

    def add_message(self, message_id: str, message: wire.RouterMessage, body: bytes) -> None:
        if isinstance(message, wire.Withdrawn):
            self._db.execute(
                "INSERT OR IGNORE INTO withdrawn (doc_id, at) VALUES (?, ?)",
                (message.doc_id, message.at),
            )
        self._db.execute(
            "INSERT OR IGNORE INTO messages (message_id, type, ref, body) VALUES (?, ?, ?, ?)",
            (message_id, wire.type_name(message), getattr(message, "ref", ""), body),
        )

    def record_sending(self, fingerprint: str, doc_id: str, message_id: str, submit: bytes) -> None:
        """Kept before the command is published: a send cut short is then found again. Kept
        once: the hot folder records a drop again each time it publishes it."""
        self._db.execute(
            "INSERT OR IGNORE INTO sent (doc_id, fingerprint, message_id, submit)"
            " VALUES (?, ?, ?, ?)",
            (doc_id, fingerprint, message_id, submit),
        )

    def mark_sent_confirmed(self, doc_id: str) -> None:
        self._db.execute("UPDATE sent SET confirmed = 1 WHERE doc_id = ?", (doc_id,))

    def sent_confirmed(self, doc_id: str) -> bool:
        row = self._db.execute("SELECT confirmed FROM sent WHERE doc_id = ?", (doc_id,)).fetchone()
        return bool(row and row[0])

    def last_sent(self, fingerprint: str) -> SentDocument | None:
        """The latest document sent with this fingerprint, if any."""
        row = self._db.execute(
            "SELECT doc_id, message_id, submit, confirmed FROM sent WHERE fingerprint = ?"
            " ORDER BY rowid DESC LIMIT 1",
            (fingerprint,),
        ).fetchone()
        if row is None:
            return None
        doc_id, message_id, submit, confirmed = row
        return SentDocument(str(doc_id), str(message_id), bytes(submit), bool(confirmed))

    def earlier_send(self, fingerprint: str) -> SentDocument | None:
        """The latest document sent with this fingerprint, unless the router refused it: a
        refused send may be put right and sent again."""
        earlier = self.last_sent(fingerprint)
        if earlier is None:
            return None
        answer = self.answer_to(earlier.message_id)
        if isinstance(answer, wire.Status) and answer.state == "rejected":
            return None
        return earlier

    def answer_to(self, ref: str) -> wire.Answer | None:
        row = self._db.execute(
            "SELECT body FROM messages WHERE ref = ? ORDER BY rowid LIMIT 1", (ref,)
        ).fetchone()
        if row is None:
            return None
        message = wire.decode_router_message(row[0])
        assert not isinstance(
            message, wire.Deliver | wire.Withdrawn | wire.Notice | wire.InfoItem | wire.InfoNotice
        )
        return message

    def answer_count(self, ref: str) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM messages WHERE ref = ?", (ref,)
        ).fetchone()
        return int(count)

    def statuses(self, doc_id: str | None = None) -> list[wire.Status]:
        rows = self._db.execute(
            "SELECT body FROM messages WHERE type = 'status' ORDER BY rowid"
        ).fetchall()
        found = [msgspec.msgpack.decode(body, type=wire.Status) for (body,) in rows]
        return [status for status in found if doc_id is None or status.doc_id == doc_id]

    def messages_after(self, rowid: int, limit: int = 500) -> list[tuple[int, str, bytes]]:
        """(rowid, type, body) of the next messages after `rowid`, in arrival order. Rows are
        only ever added, so a rowid is a reader's lasting place in the stream (as long as
        nobody VACUUMs the file: that may renumber a table without an INTEGER PRIMARY KEY)."""
        rows = self._db.execute(
            "SELECT rowid, type, body FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (rowid, limit),
        ).fetchall()
        return [(int(row), str(type_), bytes(body)) for row, type_, body in rows]

    def mark_paper(self, doc_ids: list[str], at: str) -> None:
        """These documents now come on paper (§47): not to be taken in electronically."""
        self._db.executemany(
            "INSERT OR IGNORE INTO paper (doc_id, at) VALUES (?, ?)",
            [(doc_id, at) for doc_id in doc_ids],
        )

    def notices(self) -> list[wire.Notice]:
        """Outages, recoveries and paper notices (§46, §47), oldest first."""
        rows = self._db.execute(
            "SELECT body FROM messages WHERE type = 'notice' ORDER BY rowid"
        ).fetchall()
        return [msgspec.msgpack.decode(body, type=wire.Notice) for (body,) in rows]

    def deliveries(self) -> list[StoredDelivery]:
        rows = self._db.execute(f"{_DELIVERIES} ORDER BY deliveries.rowid").fetchall()
        return [_stored_delivery(row) for row in rows]

    def new_deliveries(self, unsaved_too: bool) -> list[StoredDelivery]:
        """Deliveries no one was shown yet, and with `unsaved_too` those not saved anywhere."""
        rows = self._db.execute(
            f"{_DELIVERIES} WHERE doc_id NOT IN (SELECT doc_id FROM shown)"
            " OR (? AND saved_path IS NULL) ORDER BY deliveries.rowid",
            (unsaved_too,),
        ).fetchall()
        return [_stored_delivery(row) for row in rows]

    def mark_shown(self, doc_id: str, at: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO shown (doc_id, at) VALUES (?, ?)", (doc_id, at))

    def delivery(self, doc_id: str) -> StoredDelivery | None:
        row = self._db.execute(f"{_DELIVERIES} WHERE doc_id = ?", (doc_id,)).fetchone()
        return _stored_delivery(row) if row else None

    def unsaved(self) -> list[StoredDelivery]:
        """Deliveries not yet saved anywhere. An adapter that runs for good asks this on every
        round; `deliveries()` would decode every document ever delivered each time."""
        rows = self._db.execute(
            f"{_DELIVERIES} WHERE saved_path IS NULL ORDER BY deliveries.rowid"
        ).fetchall()
        return [_stored_delivery(row) for row in rows]

    def awaiting_receipt(self) -> list[tuple[str, str]]:
        """(doc_id, saved_path) of the documents saved but not yet receipted (§37)."""
        rows = self._db.execute(
            "SELECT doc_id, saved_path FROM deliveries"
            " WHERE saved_path IS NOT NULL AND receipt_sent = 0 ORDER BY rowid"
        ).fetchall()
        return [(str(doc_id), str(path)) for doc_id, path in rows]

    def mark_saved(self, doc_id: str, path: str) -> None:
        self._db.execute("UPDATE deliveries SET saved_path = ? WHERE doc_id = ?", (path, doc_id))

    def mark_receipt_sent(self, doc_id: str) -> None:
        self._db.execute("UPDATE deliveries SET receipt_sent = 1 WHERE doc_id = ?", (doc_id,))

    def information(self) -> list[wire.InfoItem | wire.InfoNotice]:
        """Information items received (§39–§45) and reminders about information owed."""
        rows = self._db.execute(
            "SELECT body FROM messages WHERE type IN ('info_item', 'info_notice') ORDER BY rowid"
        ).fetchall()
        return [_information.decode(body) for (body,) in rows]


_information = msgspec.msgpack.Decoder(wire.InfoItem | wire.InfoNotice)

_DELIVERIES = (
    "SELECT deliver, seal_error, saved_path, receipt_sent, withdrawn.at, paper.at"
    " FROM deliveries LEFT JOIN withdrawn USING (doc_id) LEFT JOIN paper USING (doc_id)"
)


def _stored_delivery(
    row: tuple[bytes, str, str | None, int, str | None, str | None],
) -> StoredDelivery:
    body, seal_error, saved_path, receipt_sent, withdrawn_at, paper_at = row
    deliver = msgspec.msgpack.decode(body, type=wire.Deliver)
    return StoredDelivery(
        deliver, seal_error, saved_path, bool(receipt_sent), withdrawn_at, paper_at
    )
