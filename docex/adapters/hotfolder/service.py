"""The hot folder's loop: every poll interval, read the unit's queue into its mailbox, then act
on the outbox and the inbox, and write the news.

Polling is the whole watching mechanism: it sees files on any filesystem (including network
shares, where inotify sees nothing), and a round that finds nothing costs a directory listing.
"""

from __future__ import annotations

import asyncio
import contextlib
from zoneinfo import ZoneInfo

import structlog

from docex.adapters.hotfolder.control import Control
from docex.adapters.hotfolder.folder import Folder
from docex.adapters.hotfolder.incoming import Incoming
from docex.adapters.hotfolder.news import News
from docex.adapters.hotfolder.outgoing import Outgoing
from docex.adapters.hotfolder.settings import HotFolderSettings
from docex.clock import SystemClock
from docex.ledger.journal import Journal
from docex.seals.seal import Seal
from docex.unit.client import BROKER_UNAVAILABLE, UnitClient

log = structlog.get_logger("docex.hotfolder")


async def serve(
    settings: HotFolderSettings,
    seal: Seal,
    stop: asyncio.Event,
    verification: Seal | None = None,
) -> None:
    """Run rounds until `stop` is set. A round cut short by a crash is redone next start."""
    folder = Folder(settings.folder)
    journal = Journal(settings.journal)
    try:
        async with UnitClient(settings.unit) as client:
            outgoing = Outgoing(
                folder,
                journal,
                client,
                seal,
                sealed_by=settings.sealed_by,
                max_document_bytes=settings.max_document_bytes,
                clock=SystemClock(),
            )
            incoming = Incoming(folder, client)
            control = Control(
                settings.folder, client, verification, ZoneInfo(settings.unit.timezone)
            )
            news = News(folder, journal, client.mailbox)
            # The router watches the unit's link by these (§46): the folder is served.
            client.start_heartbeats()
            log.info("hotfolder_started", unit=client.unit_id, folder=str(settings.folder))
            while not stop.is_set():
                try:
                    await client.drain()
                    await outgoing.step()
                    await incoming.step()
                    await control.step()
                    news.step()
                except BROKER_UNAVAILABLE as exc:
                    # No fault of a file: RabbitMQ away, a full disk (OSError). The next
                    # round picks up where this one stopped.
                    log.warning("round_interrupted", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.poll_interval_s)
    finally:
        journal.close()
