"""Everything the router tells the unit other than a delivery — answers, news about documents
the unit sent, withdrawals, notices, information items — written to news/ for the office
system, one JSON file per message, in the order the messages arrived.

The journal's news cursor is the mailbox rowid of the last message written. It advances after
each file is in place, so a crash in between writes the same file again under the same name.

A withdrawal, or a paper notice (§47), may concern a delivery still waiting in inbox/: it is
moved to inbox/refused/ before its news is written, so by the time the office system reads the
news the document is already out of its way, and its read receipt (§37) never goes.
"""

from __future__ import annotations

import msgspec
import structlog

from docex import wire
from docex.adapters.hotfolder.folder import Folder
from docex.ledger.journal import Journal
from docex.ledger.mailbox import Mailbox

log = structlog.get_logger("docex.hotfolder")


class News:
    def __init__(self, folder: Folder, journal: Journal, mailbox: Mailbox) -> None:
        self._folder = folder
        self._journal = journal
        self._mailbox = mailbox

    def step(self) -> None:
        """Expects the unit's queue drained and its deliveries filed just before, so a
        withdrawal finds the document it takes back already written. A long backlog is written
        a batch a round, so a round stays short."""
        for rowid, type_, body in self._mailbox.messages_after(self._journal.news_written()):
            message = wire.decode_router_message(body)
            for doc_id in _taken_back(message):
                self._refuse(doc_id)
            text = msgspec.json.format(msgspec.json.encode(message), indent=2)
            self._folder.write_news(rowid, type_, text)
            self._journal.mark_news_written(rowid)

    def _refuse(self, doc_id: str) -> None:
        stored = self._mailbox.delivery(doc_id)
        if stored is None:
            return  # not delivered yet; it is filed in refused/ when it comes
        path = self._folder.refuse(stored)
        if path is not None:
            self._mailbox.mark_saved(doc_id, str(path))
            log.warning("delivery_refused", doc_id=doc_id, path=str(path))


def _taken_back(message: wire.RouterMessage) -> list[str]:
    """Documents this message may take back from the unit. A paper notice lists another unit's
    documents too when the unit is the office (which gets a copy of each); the mailbox knows
    which are this unit's."""
    if isinstance(message, wire.Withdrawn):
        return [message.doc_id]
    if isinstance(message, wire.Notice):
        return message.documents
    return []
