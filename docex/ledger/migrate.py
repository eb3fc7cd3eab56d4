"""Moving an exchange's ledger from its SQLite file into PostgreSQL, when it outgrows one
machine (`docex ledger migrate`).

Offline: the router must be stopped (its lock on the file is taken for the whole copy), and the
target must hold no exchange yet. Every table is copied with its row order (`rowid`, `seq`,
ids) and the identity counters are moved past it, so the PostgreSQL ledger goes on where the
file stopped; each table is then compared row by row (count and a digest of every value), so
a document, receipt or quota that did not arrive is found before anyone routes on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from docex.i18n import _
from docex.ledger import lock
from docex.ledger.errors import LedgerError
from docex.ledger.postgres import PostgresLedger
from docex.ledger.sqlite import SqliteLedger

# In an order that keeps every reference valid; (table, columns, identity column or None).
_TABLES: list[tuple[str, str, str | None]] = [
    ("contents", "sha256, body, pruned_at", None),
    (
        "documents",
        "id, sender, title, doc_no, sha256, envelope, command_id, sent_at, sent_exchange_date",
        None,
    ),
    (
        "deliveries",
        "rowid, doc_id, recipient, role, print_quota, printed, state, attempt, delivered_at,"
        " received_at, received_exchange_date, attachments_received_at",
        "rowid",
    ),
    # The file's counts, kept exact by its triggers (states at 0 included).
    ("delivery_states", "state, count", None),
    ("commands", "id, unit, type, received_at, outcome, reason, doc_id, person", None),
    ("unit_names", "rowid, unit_id, old_name, new_name, changed_at", "rowid"),
    ("outbox", "seq, routing_key, message_id, type, body, doc_id, recipient", "seq"),
    (
        "outbox_dead",
        "seq, routing_key, message_id, type, body, doc_id, recipient, reason, error, dead_at",
        None,
    ),
    ("links", "unit, last_seen_at, heartbeats", None),
    (
        "faults",
        "id, scope, kind, started_at, ended_at, office_notified_at, paper_issued_at",
        "id",
    ),
    ("notices", "id, fault_id, unit, path, created_at, pdf", "id"),
    ("notice_documents", "rowid, notice_id, doc_id", "rowid"),
    (
        "info_items",
        "id, kind, sender, item, created_at, period, part, deadline, replied_at,"
        " delay_explained_at, overdue_at, adopted_at",
        None,
    ),
    ("info_recipients", "rowid, info_id, recipient", "rowid"),
    ("info_flags", "unit, subject, what, at", None),
    ("sms_outbox", "seq, unit, name, mobile, text, created_at", "seq"),
    ("sms_sent", "id, mobile, sent_at, reminders", None),
    # The audit chain goes on where the file's stopped: its unchained events all get the
    # migration's transaction id, so the chainer takes them in id order, as SQLite's would.
    ("audit_events", "id, what, doc_id, unit, at, detail, hash", "id"),
    ("audit_chain", "seq, event_id, prev_hash, hash", None),
    ("audit_checkpoints", "seq, hash, signature, certificate, at", None),
    (
        "persons",
        "unit, name, chinese_name, roles, mobile, status, system, key_id, public_key,"
        " created_at, changed_at, changed_by",
        None,
    ),
    ("person_credentials", "key_id, unit, name, issued_at, revoked_at, first_used_at", None),
    (
        "delivery_acts",
        "seq, doc_id, recipient, act, person, at, first_copy, last_copy",
        "seq",
    ),
]

Progress = Callable[[str], None]


class MigrationError(Exception):
    pass


def migrate(source: Path, target_url: str, progress: Progress) -> dict[str, int]:
    """Copy the SQLite ledger at `source` into the empty PostgreSQL ledger at `target_url`;
    returns the rows copied per table. MigrationError, in one line, if it cannot."""
    if not source.is_file():
        raise MigrationError(_("no ledger at {path}").format(path=source))
    try:
        with lock.held(source):
            # Opened for writing: a ledger from an older docex is brought to the current schema.
            reader = SqliteLedger(source)
            writer = PostgresLedger(target_url)
            try:
                return _copy(reader, writer, progress)
            finally:
                reader.close()
                writer.close()
    except lock.LedgerInUse as exc:
        raise MigrationError(str(exc)) from None
    except LedgerError as exc:
        raise MigrationError(str(exc)) from None


def _copy(reader: SqliteLedger, writer: PostgresLedger, progress: Progress) -> dict[str, int]:
    source, target = reader.connection, writer.connection
    (documents,) = target.execute("SELECT count(*) FROM documents").fetchone()
    (commands,) = target.execute("SELECT count(*) FROM commands").fetchone()
    if documents or commands:
        raise MigrationError(
            _(
                "{database}: already holds an exchange ({documents} documents); migrate into an"
                " empty database"
            ).format(database=writer.description, documents=documents)
        )
    copied: dict[str, int] = {}
    with writer.transaction():
        # The counts are copied as they are, not added up again one delta per delivery.
        target.execute("ALTER TABLE deliveries DISABLE TRIGGER delivery_states_counted")
        for table, columns, _identity in _TABLES:
            rows = source.execute(f"SELECT {columns} FROM {table}").fetchall()
            target.copy_rows(table, columns, rows)
            copied[table] = len(rows)
            progress(_("{table}: {count} rows").format(table=table, count=len(rows)))
        target.execute("ALTER TABLE deliveries ENABLE TRIGGER delivery_states_counted")
        for table, _columns, identity in _TABLES:
            if identity:
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'),"
                    f" (SELECT coalesce(max({identity}), 0) + 1 FROM {table}), false)"
                )
    progress(_("checking every table against the file"))
    for table, columns, _identity in _TABLES:
        # Compared as sets of rows: the two databases sort text differently.
        ours = source.execute(f"SELECT {columns} FROM {table}").fetchall()
        theirs = target.execute(f"SELECT {columns} FROM {table}").fetchall()
        if len(ours) != len(theirs) or _digest(ours) != _digest(theirs):
            raise MigrationError(
                _(
                    "{table}: the copy differs from the file ({there} rows there, {here} here);"
                    " the PostgreSQL ledger is not to be used"
                ).format(table=table, there=len(ours), here=len(theirs))
            )
    return copied


def _digest(rows: Iterable[tuple[Any, ...]]) -> str:
    digest = hashlib.sha256()
    for text in sorted(repr(tuple(_plain(value) for value in row)) for row in rows):
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value
