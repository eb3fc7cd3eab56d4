"""What the General Office's board (docex/board/) reads from the ledger, beyond the read side
every tool shares (docex/ledger/port.py): pages of documents, waiting deliveries, faults,
notices and late information, each bounded, newest or oldest first as people look for them.

A mixin over the ledger's connection (`self._db`), in SQL that SQLite and PostgreSQL both run:
`?` placeholders, LIKE patterns passed as parameters, times compared as the TEXT stamps they are
(all written in the exchange's local offset, so text order is time order). The indexes these
reads need are `BOARD_INDEXES`, made when the router opens the ledger for writing; a read-only
board cannot make them, and reads correctly without them, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

BOARD_INDEXES = """
CREATE INDEX IF NOT EXISTS documents_by_sent ON documents (sent_at, id);
CREATE INDEX IF NOT EXISTS documents_by_doc_no ON documents (doc_no);
CREATE INDEX IF NOT EXISTS documents_by_sender ON documents (sender, sent_at);
CREATE INDEX IF NOT EXISTS deliveries_by_recipient ON deliveries (recipient, doc_id);
CREATE INDEX IF NOT EXISTS deliveries_waiting ON deliveries (delivered_at)
    WHERE received_at IS NULL AND state = 'delivered';
CREATE INDEX IF NOT EXISTS deliveries_waiting_by_recipient ON deliveries (recipient, delivered_at)
    WHERE received_at IS NULL AND state = 'delivered';
CREATE INDEX IF NOT EXISTS deliveries_waiting_by_document
    ON deliveries (doc_id, recipient, role, delivered_at)
    WHERE received_at IS NULL AND state = 'delivered';
CREATE INDEX IF NOT EXISTS info_items_overdue ON info_items (overdue_at)
    WHERE overdue_at IS NOT NULL;
"""

# A search for words in titles looks at this many of the newest documents matching the rest of
# the search; the board offers to go on from the oldest of them.
TITLE_WINDOW = 20_000
# A unit's registrar's page first looks among this many of the newest documents.
VIEWER_WALK = 2_000
# The largest character: a prefix's range of doc_no ends just below prefix + this.
_LAST_CHARACTER = "\U0010ffff"


@dataclass(frozen=True)
class DocumentSearch:
    """What a board user searches documents by; empty fields do not narrow the search.

    `sent_from` and `sent_until` are local dates (YYYY-MM-DD), both included. `viewer`: the unit
    whose registrar is looking (only what it sent or received), None for the General Office.
    """

    doc_no: str = ""
    title: str = ""
    sender: str = ""
    recipient: str = ""
    sent_from: str = ""
    sent_until: str = ""
    viewer: str | None = None


@dataclass(frozen=True)
class DocumentRow:
    id: str
    sender: str
    title: str
    doc_no: str
    sent_at: str
    sent_exchange_date: str


@dataclass(frozen=True)
class WaitingDelivery:
    """Delivered to the recipient's queue, not yet received (§37)."""

    doc_id: str
    recipient: str
    role: str
    delivered_at: str
    sender: str
    title: str
    doc_no: str


@dataclass(frozen=True)
class WaitingTotal:
    recipient: str
    count: int
    oldest_delivered_at: str


@dataclass(frozen=True)
class OverdueRequest:
    """A request to handle (§42) flagged overdue; `recipients` are the handling units."""

    id: str
    sender: str
    item: bytes
    deadline: str
    overdue_at: str
    replied_at: str | None
    delay_explained_at: str | None
    recipients: list[str]


@dataclass(frozen=True)
class LateUpdate:
    """A unit that had not filed its work update (§41) for a period by the due date."""

    unit: str
    period: str
    flagged_at: str


@dataclass(frozen=True)
class RegisteredCredential:
    """A personal credential the register issued (§15), and when a reset revoked it."""

    key_id: str
    issued_at: str
    revoked_at: str | None
    # When it first signed a command the exchange took (its initial password was changed).
    first_used_at: str | None


@dataclass(frozen=True)
class RegisteredPerson:
    """A person of the register as the General Office reads its filing (§13)."""

    unit: str
    name: str
    chinese_name: str
    roles: list[str]
    mobile: str
    status: str  # active, disabled
    system: bool
    changed_at: str
    changed_by: str
    # Whether the current credential has signed a command the exchange took. Until it has,
    # its owner may not have changed the initial password: the client signs nothing before
    # they do (§15), and the exchange cannot see the file itself.
    in_use: bool
    # Newest first.
    credentials: list[RegisteredCredential]


class BoardReads(Protocol):
    """The board's reads; every list is bounded by `limit`."""

    def board_documents(
        self, search: DocumentSearch, limit: int, before: tuple[str, str] | None = None
    ) -> list[DocumentRow]:
        """Newest first; `before` is the (sent_at, id) of the last row of the previous page.
        Title words are looked for among the newest TITLE_WINDOW documents that match the rest."""
        ...

    def board_title_window_end(
        self, search: DocumentSearch, before: tuple[str, str] | None = None
    ) -> tuple[str, str] | None:
        """The (sent_at, id) of the oldest document a title search looks at, None when it
        looks at every document matching the rest of the search (the viewer aside: a unit's
        registrar searches the same window, of which it sees its own documents)."""
        ...

    def board_waiting(
        self, viewer: str | None, limit: int, offset: int = 0
    ) -> list[WaitingDelivery]:
        """Oldest delivery first; a unit sees what was sent to it and what it sent."""
        ...

    def board_waiting_totals(self, viewer: str | None) -> list[WaitingTotal]:
        """Per recipient, by unit id."""
        ...

    def board_links(self) -> dict[str, tuple[str, bool]]:
        """Every unit heard from: when last, and whether it sends heartbeats."""
        ...

    def board_ended_faults(self, limit: int) -> list[tuple[int, str, str, str, str]]:
        """(id, scope, kind, started_at, ended_at) of faults that ended, latest first."""
        ...

    def board_notices(
        self, limit: int, before: int | None = None
    ) -> list[tuple[int, int, str, str]]:
        """(id, fault_id, unit, created_at), newest first, older than notice `before`."""
        ...

    def board_overdue_requests(self, limit: int) -> list[OverdueRequest]:
        """Latest flagged first."""
        ...

    def board_late_updates(self, limit: int) -> list[LateUpdate]:
        """Latest flagged first."""
        ...

    def board_register(
        self, viewer: str | None, limit: int, offset: int = 0
    ) -> list[RegisteredPerson]:
        """The register of persons by unit and name: a unit's registrar sees its own."""
        ...


class BoardReadsMixin:
    """BoardReads for a ledger whose `_db.execute(sql, params)` runs portable SQL."""

    _db: Any

    def board_documents(
        self, search: DocumentSearch, limit: int, before: tuple[str, str] | None = None
    ) -> list[DocumentRow]:
        base, base_params = _document_filters(search, before)
        where, params = list(base), list(base_params)
        words = search.title.split()
        if words:
            # A word inside titles needs a look at each title: only the newest TITLE_WINDOW.
            where, params = _from_newest(where, params, self._nth_newest(base, base_params))
            where += ["title LIKE ? ESCAPE '\\'"] * len(words)
            params += ["%" + _like_escaped(word) + "%" for word in words]
        if search.viewer is None:
            return self._documents(where, params, limit)
        visible = (
            "(sender = ? OR EXISTS (SELECT 1 FROM deliveries"
            " WHERE doc_id = documents.id AND recipient = ?))"
        )
        where, params = [*where, visible], [*params, search.viewer, search.viewer]
        if words:
            return self._documents(where, params, limit)  # the title window bounds the walk
        # A unit's documents among the newest ones, walking them in order: quick for a unit
        # with a fair share of the traffic.
        walk_end = self._nth_newest(base, base_params, VIEWER_WALK)
        walked = self._documents(*_from_newest(where, params, walk_end), limit)
        if len(walked) == limit or walk_end is None:
            return walked
        # Too few there: read what the unit received and what it sent from the unit's own rows,
        # so a rarely addressed unit costs its own share of the ledger, not the whole of it.
        received = [*base, "id IN (SELECT doc_id FROM deliveries WHERE recipient = ?)"]
        sent = [*base, "sender = ?"]
        rows = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents{_where(received)}"
            f" UNION SELECT {_DOCUMENT_COLUMNS} FROM documents{_where(sent)}{_NEWEST}",
            (*base_params, search.viewer, *base_params, search.viewer, limit),
        ).fetchall()
        return [DocumentRow(*row) for row in rows]

    def board_title_window_end(
        self, search: DocumentSearch, before: tuple[str, str] | None = None
    ) -> tuple[str, str] | None:
        return self._nth_newest(*_document_filters(search, before))

    def _documents(self, where: list[str], params: list[object], limit: int) -> list[DocumentRow]:
        rows = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents{_where(where)}{_NEWEST}",
            (*params, limit),
        ).fetchall()
        return [DocumentRow(*row) for row in rows]

    def _nth_newest(
        self, where: list[str], params: list[object], n: int | None = None
    ) -> tuple[str, str] | None:
        """(sent_at, id) of the n-th newest document matching, TITLE_WINDOW-th by default;
        None when fewer match."""
        row = self._db.execute(
            f"SELECT sent_at, id FROM documents{_where(where)}"
            " ORDER BY sent_at DESC, id DESC LIMIT 1 OFFSET ?",
            (*params, (n or TITLE_WINDOW) - 1),
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def board_waiting(
        self, viewer: str | None, limit: int, offset: int = 0
    ) -> list[WaitingDelivery]:
        waiting, params = _waiting(viewer)
        order = " ORDER BY delivered_at, doc_id, recipient"
        # The page is cut from the deliveries alone; only its own rows look up their document.
        rows = self._db.execute(
            "SELECT w.doc_id, w.recipient, w.role, w.delivered_at, doc.sender, doc.title,"
            f" doc.doc_no FROM (SELECT * FROM ({waiting}) AS v{order} LIMIT ? OFFSET ?) AS w"
            " JOIN documents doc ON doc.id = w.doc_id"
            " ORDER BY w.delivered_at, w.doc_id, w.recipient",
            (*params, limit, offset),
        ).fetchall()
        return [WaitingDelivery(*row) for row in rows]

    def board_register(
        self, viewer: str | None, limit: int, offset: int = 0
    ) -> list[RegisteredPerson]:
        where, params = ("WHERE unit = ?", [viewer]) if viewer is not None else ("", [])
        rows = self._db.execute(
            "SELECT unit, name, chinese_name, roles, mobile, status, system, key_id, changed_at,"
            f" changed_by FROM persons {where} ORDER BY unit, name LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        people = []
        for unit, name, chinese, roles, mobile, status, system, key_id, changed_at, by in rows:
            credentials = [
                RegisteredCredential(*row)
                for row in self._db.execute(
                    "SELECT key_id, issued_at, revoked_at, first_used_at FROM person_credentials"
                    " WHERE unit = ? AND name = ? ORDER BY issued_at DESC, key_id",
                    (unit, name),
                ).fetchall()
            ]
            used = any(c.key_id == key_id and c.first_used_at for c in credentials)
            people.append(
                RegisteredPerson(
                    unit=str(unit),
                    name=str(name),
                    chinese_name=str(chinese),
                    roles=[role for role in str(roles).split(",") if role],
                    mobile=str(mobile),
                    status=str(status),
                    system=bool(system),
                    changed_at=str(changed_at),
                    changed_by=str(by),
                    in_use=bool(used),
                    credentials=credentials,
                )
            )
        return people

    def board_waiting_totals(self, viewer: str | None) -> list[WaitingTotal]:
        waiting, params = _waiting(viewer)
        rows = self._db.execute(
            f"SELECT w.recipient, count(*), min(w.delivered_at) FROM ({waiting}) AS w"
            " GROUP BY w.recipient ORDER BY w.recipient",
            tuple(params),
        ).fetchall()
        return [WaitingTotal(str(unit), int(count), str(oldest)) for unit, count, oldest in rows]

    def board_links(self) -> dict[str, tuple[str, bool]]:
        rows = self._db.execute("SELECT unit, last_seen_at, heartbeats FROM links").fetchall()
        return {str(unit): (str(seen), bool(beats)) for unit, seen, beats in rows}

    def board_ended_faults(self, limit: int) -> list[tuple[int, str, str, str, str]]:
        rows = self._db.execute(
            "SELECT id, scope, kind, started_at, ended_at FROM faults"
            " WHERE ended_at IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [tuple(row) for row in rows]

    def board_notices(
        self, limit: int, before: int | None = None
    ) -> list[tuple[int, int, str, str]]:
        where, params = (["id < ?"], [before]) if before is not None else ([], [])
        rows = self._db.execute(
            f"SELECT id, fault_id, unit, created_at FROM notices{_where(where)}"
            " ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [tuple(row) for row in rows]

    def board_overdue_requests(self, limit: int) -> list[OverdueRequest]:
        rows = self._db.execute(
            "SELECT id, sender, item, deadline, overdue_at, replied_at, delay_explained_at"
            " FROM info_items WHERE overdue_at IS NOT NULL AND kind = 'request'"
            " ORDER BY overdue_at DESC, id LIMIT ?",
            (limit,),
        ).fetchall()
        requests = []
        for info_id, sender, item, deadline, overdue_at, replied_at, delayed_at in rows:
            recipients = self._db.execute(
                "SELECT recipient FROM info_recipients WHERE info_id = ? ORDER BY recipient",
                (info_id,),
            ).fetchall()
            handlers = [str(unit) for (unit,) in recipients]
            requests.append(
                OverdueRequest(
                    info_id, sender, item, deadline, overdue_at, replied_at, delayed_at, handlers
                )
            )
        return requests

    def board_late_updates(self, limit: int) -> list[LateUpdate]:
        rows = self._db.execute(
            "SELECT unit, subject, at FROM info_flags WHERE what = 'late'"
            " ORDER BY at DESC, unit LIMIT ?",
            (limit,),
        ).fetchall()
        return [LateUpdate(*row) for row in rows]


def _document_filters(
    search: DocumentSearch, before: tuple[str, str] | None
) -> tuple[list[str], list[object]]:
    """Everything but the title's words and the viewer, which board_documents adds."""
    where: list[str] = []
    params: list[object] = []
    if search.doc_no:
        # Exact, or starting with what was typed: a range, so the doc_no index answers it.
        where.append("doc_no >= ? AND doc_no < ?")
        params += [search.doc_no, search.doc_no + _LAST_CHARACTER]
    if search.sender:
        where.append("sender = ?")
        params.append(search.sender)
    if search.recipient:
        where.append(
            "EXISTS (SELECT 1 FROM deliveries WHERE doc_id = documents.id AND recipient = ?)"
        )
        params.append(search.recipient)
    if search.sent_from:
        where.append("sent_at >= ?")
        params.append(search.sent_from)
    if search.sent_until:
        # Every stamp of that day sorts before the day's date followed by a later character.
        where.append("sent_at < ?")
        params.append(search.sent_until + "U")
    if before is not None:
        where.append("sent_at <= ? AND (sent_at < ? OR id < ?)")
        params += [before[0], before[0], before[1]]
    return where, params


def _from_newest(
    where: list[str], params: list[object], end: tuple[str, str] | None
) -> tuple[list[str], list[object]]:
    """Only documents no older than `end`, when there is one."""
    if end is None:
        return where, params
    return (
        # The plain bound first, so the sent_at index stops there.
        [*where, "sent_at >= ? AND (sent_at > ? OR id >= ?)"],
        [*params, end[0], end[0], end[1]],
    )


_DOCUMENT_COLUMNS = "id, sender, title, doc_no, sent_at, sent_exchange_date"
_NEWEST = " ORDER BY sent_at DESC, id DESC LIMIT ?"


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


_WAITING = "received_at IS NULL AND state = 'delivered'"


def _waiting(viewer: str | None) -> tuple[str, list[object]]:
    """The deliveries waiting for receipt that the viewer may see, as a subquery: for a unit,
    those sent to it and those of the documents it sent, each read through its own index."""
    columns = "doc_id, recipient, role, delivered_at"
    if viewer is None:
        return f"SELECT {columns} FROM deliveries WHERE {_WAITING}", []
    return (
        f"SELECT {columns} FROM deliveries WHERE recipient = ? AND {_WAITING}"
        f" UNION SELECT {columns} FROM deliveries WHERE {_WAITING}"
        " AND doc_id IN (SELECT id FROM documents WHERE sender = ?)",
        [viewer, viewer],
    )


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
