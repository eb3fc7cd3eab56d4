"""The receiving side of a hot folder: delivered documents are written to inbox/, and the read
receipt (§37) goes out once the office system has moved one to inbox/done/.

The unit's mailbox is the record of both steps (`saved_path`, `receipt_sent`), as it is for
`docex unit inbox --save`. A crash after writing a file but before recording it writes the
same file again; a crash after a receipt but before recording it sends another receipt, and
the router keeps the first one's time.
"""

from __future__ import annotations

import structlog

from docex import wire
from docex.adapters.hotfolder.folder import Folder
from docex.filenames import UnsafeFileName
from docex.unit.client import UnitClient

log = structlog.get_logger("docex.hotfolder")


class Incoming:
    def __init__(self, folder: Folder, client: UnitClient) -> None:
        self._folder = folder
        self._client = client
        # Deliveries that could not be written, and why: each is tried again every round, and
        # logged again only when the reason changes, or a stuck one would flood the log.
        self._not_saved: dict[str, str] = {}

    async def step(self) -> None:
        """Expects the unit's queue drained into the mailbox just before."""
        mailbox = self._client.mailbox
        for stored in mailbox.unsaved():
            doc_id = stored.deliver.envelope.id
            try:
                path = self._folder.file_delivery(stored)
            except (OSError, UnsafeFileName) as exc:
                # Set aside, unreceipted (§37); the deliveries after it still go in.
                if self._not_saved.get(doc_id) != str(exc):
                    log.error("delivery_not_saved", doc_id=doc_id, error=str(exc))
                    self._not_saved[doc_id] = str(exc)
                continue
            self._not_saved.pop(doc_id, None)
            mailbox.mark_saved(doc_id, str(path))
            if path.parent == self._folder.refused:
                log.warning("delivery_refused", doc_id=doc_id, path=str(path))
            else:
                log.info("delivered", doc_id=doc_id, path=str(path))
        for doc_id, saved_path in mailbox.awaiting_receipt():
            if self._folder.taken_in(saved_path):
                await self._client.send(wire.Receipt(v=wire.VERSION, doc_id=doc_id, kind="read"))
                mailbox.mark_receipt_sent(doc_id)
                log.info("read_receipt_sent", doc_id=doc_id)
