"""Receipt watch (§33): a recipient that has not received a document in time is reminded.

§33 asks every unit to receive its documents on time. A delivery that has waited in its
recipient's queue for `[links] receive_reminder_hours` of workday time (docex/core/receipts.py)
without being read, printed or downloaded gets one `notice` (kind `receive_reminder`) to
the recipient, which also reaches the unit's registered mobiles as a text (§16, sms.py), and
counts in `docex_receive_reminders_total`. Each delivery is reminded of once: the reminder is
recorded in the ledger in the same transaction, so a repeat or a restart sends nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from docex import wire
from docex.core import texts
from docex.core.receipts import workday_hours
from docex.exchange_date import CalendarError
from docex.ledger.receipt_reminders import REMINDED, Unreceived
from docex.ledger.records import stored_envelope
from docex.router.handler import CommandHandler
from docex.router.ledger_health import LedgerHealth

log = structlog.get_logger("docex.router")


class ReceiveWatch:
    def __init__(
        self,
        handler: CommandHandler,
        ledger_health: LedgerHealth,
        wake_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.handler = handler
        self.ledger = handler.ledger
        self.ledger_health = ledger_health
        self.wake_outbox = wake_outbox

    async def run(self) -> None:
        """Check every `[links] check_interval_s`; a check the ledger cannot commit is tried
        again until it can (checks are idempotent)."""
        while True:
            await self.ledger_health.retry("receivewatch", self.check)
            await asyncio.sleep(self.handler.config.links.check_interval_s)

    def check(self) -> None:
        hours = self.handler.config.links.receive_reminder_hours
        if hours <= 0:
            return
        now = self.handler.clock.now()
        # Workday hours never outnumber the hours on the clock: nothing delivered later can
        # be due yet.
        delivered_by = self.handler.calendar.stamp(now - timedelta(hours=hours))
        with self.ledger.transaction():
            for waiting in self.ledger.unreceived_unreminded(delivered_by):
                if self._waited(waiting, now) >= hours:
                    self._remind(waiting, self.handler.calendar.stamp(now))
        self.wake_outbox()

    def _waited(self, waiting: Unreceived, now: datetime) -> float:
        calendar = self.handler.calendar
        try:
            return workday_hours(
                datetime.fromisoformat(waiting.delivered_at),
                now,
                calendar.is_workday,
                calendar.timezone,
            )
        except CalendarError:
            return 0.0  # a year without holiday data: warned of (config.calendar_warnings)

    def _remind(self, waiting: Unreceived, at: str) -> None:
        if not self.ledger.flag_once(waiting.recipient, waiting.doc_id, REMINDED, at):
            return
        document = self.ledger.document(waiting.doc_id)
        assert document is not None
        sender = self.handler.config.unit(document.sender)
        public = stored_envelope(document).classification == "public"
        text = texts.receive_reminder(
            sender.name if sender else document.sender,
            texts.document_named(document.title, document.doc_no, public),
            waiting.delivered_at,
        )
        self.handler.tell(
            waiting.recipient,
            wire.Notice(
                kind="receive_reminder",
                fault_id=0,
                scope=waiting.recipient,
                fault="not_received",
                started_at=waiting.delivered_at,
                at=at,
                text=text,
                documents=[waiting.doc_id],
                recipient=waiting.recipient,
            ),
        )
        self.handler.metrics.receive_reminders.inc()
        log.info(
            "receive_reminder",
            doc_id=waiting.doc_id,
            recipient=waiting.recipient,
            delivered_at=waiting.delivered_at,
        )
