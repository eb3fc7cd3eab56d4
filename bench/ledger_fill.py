"""Deliveries written straight into a SQLite ledger, for benches that need a large one.

The router's own path would take hours for a million deliveries; this takes about a minute.
The ledger must exist already, with its schema (`open_ledger` or `init_ledger` makes it), and
the caller holds the transaction, so a fill is all there or not at all.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from docex import wire

BEIJING = ZoneInfo("Asia/Shanghai")
WORDS = ["年终", "预算", "安全", "教育", "统计", "值班", "防汛", "审计", "招商", "环保", "交通"]
# Share of deliveries sent before `waiting_from` still waiting (the rest of the 97 %
# not received); the last 3 % were withdrawn, returned or went on paper.
SETTLED = 0.97


def stamp(at: datetime) -> str:
    return at.astimezone(BEIJING).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Fill:
    """What to write. Each document goes from one of `units` to 1-7 others (so `units` needs
    at least 8), sent at even steps from `start` to `end`. A delivery sent before
    `waiting_from` was received with probability `received`; everything sent after it is
    still waiting, as the newest deliveries of a real exchange are."""

    units: Sequence[str]
    deliveries: int
    start: datetime
    end: datetime
    waiting_from: datetime
    received: float
    doc_prefix: str = "doc-"
    # Also the `commands` rows the router writes with them: a submit per document and a
    # receipt per received delivery (the router checks every command id against them).
    commands: bool = False


def fill_deliveries(db: sqlite3.Connection, fill: Fill, rng: random.Random) -> tuple[int, int]:
    """Write documents, deliveries (and commands) inside the caller's transaction; returns
    (documents, deliveries) written. `rng` makes it repeatable."""
    body = b"%PDF-1.7 bench"
    digest = hashlib.sha256(body).digest()
    # One envelope's headers for every document: the board reads them on a document's page.
    envelope = wire.encode(
        wire.Envelope(
            id="bench",
            sender=fill.units[0],
            to=[fill.units[1]],
            title="bench",
            doc_no="bench",
            format="pdf",
            content=b"",
            sha256=digest,
            created_at=stamp(fill.start),
            sealed_at=stamp(fill.start),
            sealed_by="张三",
        )
    )
    db.execute("INSERT OR IGNORE INTO contents (sha256, body) VALUES (?, ?)", (digest, body))
    span = (fill.end - fill.start).total_seconds()
    count = len(fill.units)
    made = 0
    number = 0
    documents: list[tuple] = []
    rows: list[tuple] = []
    commands: list[tuple] = []
    while made < fill.deliveries:
        number += 1
        sender = rng.randrange(count)
        sent = fill.start + timedelta(seconds=span * made / fill.deliveries)
        doc_id = f"{fill.doc_prefix}{number:08d}"
        title = f"关于{rng.choice(WORDS)}{rng.choice(WORDS)}工作的通知（{number}）"
        documents.append(
            (
                doc_id,
                fill.units[sender],
                title,
                f"穗{sender:02d}〔2026〕{number}号",
                digest,
                envelope,
                f"cmd-{number}",
                stamp(sent),
                sent.date().isoformat(),
            )
        )
        if fill.commands:
            commands.append((f"cmd-{number}", fill.units[sender], "submit", stamp(sent), doc_id))
        recipients = rng.sample([n for n in range(count) if n != sender], rng.randint(1, 7))
        for index, recipient in enumerate(recipients):
            delivered = sent + timedelta(seconds=rng.randint(1, 30))
            roll = rng.random()
            late = sent > fill.waiting_from
            if roll < fill.received and not late:
                received_at = min(delivered + timedelta(hours=rng.randint(1, 30)), fill.end)
                state, received = "received", stamp(received_at)
            elif roll < SETTLED or late:
                state, received = "delivered", None
            else:
                state, received = rng.choice(["withdrawn", "paper", "returned"]), None
            rows.append(
                (
                    doc_id,
                    fill.units[recipient],
                    "main" if index == 0 else "copy",
                    3,
                    1 if received else 0,
                    state,
                    1,
                    stamp(delivered),
                    received,
                    received[:10] if received else None,
                )
            )
            if fill.commands and received:
                commands.append(
                    (f"rcpt-{number}-{index}", fill.units[recipient], "receipt", received, doc_id)
                )
        made += len(recipients)
        if len(rows) > 50_000:
            _flush(db, documents, rows, commands)
    _flush(db, documents, rows, commands)
    return number, made


def _flush(
    db: sqlite3.Connection, documents: list[tuple], rows: list[tuple], commands: list[tuple]
) -> None:
    db.executemany(
        "INSERT INTO documents (id, sender, title, doc_no, sha256, envelope, command_id,"
        " sent_at, sent_exchange_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        documents,
    )
    db.executemany(
        "INSERT INTO deliveries (doc_id, recipient, role, print_quota, printed, state, attempt,"
        " delivered_at, received_at, received_exchange_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.executemany(
        "INSERT INTO commands (id, unit, type, received_at, outcome, doc_id)"
        " VALUES (?, ?, ?, ?, 'accepted', ?)",
        commands,
    )
    documents.clear()
    rows.clear()
    commands.clear()
