"""The hot folder's journal, in its own SQLite file: one row per drop, and how far the news has
been written to news/.

A drop is sealed once. Its envelope id, message id and encoded submit are committed here
before the first publish, so after a crash the same bytes go out again under the same message
id, and the router (which keeps every message id it has applied) takes the document once. The
router's answer and the name the files get in sent/ or rejected/ are committed before any file
moves, so filing the result can be redone after a crash without choosing differently.

The news cursor is the mailbox rowid of the last message written to news/. It advances only
after the file is in place, so a crash in between writes that file again under its own name.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drops (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    envelope_id TEXT,
    message_id TEXT,
    -- The encoded submit, kept until the router has answered.
    body BLOB,
    -- NULL while waiting for the router; then 'sent' or 'rejected'.
    outcome TEXT,
    -- The result note: the sent receipt (JSON) or the reason for the rejection.
    note TEXT,
    -- The file name in sent/ or rejected/.
    dest TEXT,
    filed INTEGER NOT NULL DEFAULT 0
);
-- A name is one drop until its result is filed; then the name is free for the next.
CREATE UNIQUE INDEX IF NOT EXISTS drops_open ON drops (name) WHERE filed = 0;
CREATE TABLE IF NOT EXISTS news_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_written INTEGER NOT NULL
);
INSERT OR IGNORE INTO news_cursor (id, last_written) VALUES (1, 0);
"""


@dataclass(frozen=True)
class Drop:
    id: int
    name: str
    envelope_id: str | None
    message_id: str | None
    body: bytes | None
    outcome: str | None
    note: str | None
    dest: str | None


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def open_drops(self) -> list[Drop]:
        """Drops whose result is not filed yet, oldest first."""
        rows = self._db.execute(f"{_SELECT} WHERE filed = 0 ORDER BY id").fetchall()
        return [Drop(*row) for row in rows]

    def add_sending(self, name: str, envelope_id: str, message_id: str, body: bytes) -> Drop:
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO drops (name, envelope_id, message_id, body) VALUES (?, ?, ?, ?)",
                (name, envelope_id, message_id, body),
            )
        return self._drop(_rowid(cursor))

    def add_rejected(self, name: str, note: str, name_taken: bool) -> Drop:
        """A drop refused before sealing: nothing to wait for, only to file."""
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO drops (name, outcome, note) VALUES (?, 'rejected', ?)", (name, note)
            )
            drop_id = _rowid(cursor)
            self._db.execute(
                "UPDATE drops SET dest = ? WHERE id = ?",
                (result_name(name, drop_id, name_taken), drop_id),
            )
        return self._drop(drop_id)

    def set_outcome(self, drop: Drop, outcome: str, note: str, name_taken: bool) -> Drop:
        with self._db:
            self._db.execute(
                "UPDATE drops SET outcome = ?, note = ?, dest = ?, body = NULL WHERE id = ?",
                (outcome, note, result_name(drop.name, drop.id, name_taken), drop.id),
            )
        return self._drop(drop.id)

    def sealed_here(self, envelope_id: str) -> bool:
        """Whether this hot folder sealed and sent the document: what the office system drops
        twice is its own business; only a repeat of a clerk's `docex unit send` is refused."""
        row = self._db.execute(
            "SELECT 1 FROM drops WHERE envelope_id = ? LIMIT 1", (envelope_id,)
        ).fetchone()
        return row is not None

    def mark_filed(self, drop: Drop) -> None:
        with self._db:
            self._db.execute("UPDATE drops SET filed = 1 WHERE id = ?", (drop.id,))

    def news_written(self) -> int:
        """The mailbox rowid of the last message written to news/; 0 before the first."""
        (rowid,) = self._db.execute("SELECT last_written FROM news_cursor").fetchone()
        return int(rowid)

    def mark_news_written(self, rowid: int) -> None:
        with self._db:
            self._db.execute("UPDATE news_cursor SET last_written = ?", (rowid,))

    def _drop(self, drop_id: int) -> Drop:
        return Drop(*self._db.execute(f"{_SELECT} WHERE id = ?", (drop_id,)).fetchone())


_SELECT = "SELECT id, name, envelope_id, message_id, body, outcome, note, dest FROM drops"


def _rowid(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def result_name(name: str, drop_id: int, name_taken: bool) -> str:
    """The drop's own name, unless an earlier drop of that name was filed in the same place;
    then the journal id sets them apart: `x.pdf` becomes `x.17.pdf`."""
    if not name_taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{drop_id}.{suffix}" if dot and stem else f"{name}.{drop_id}"
