"""Information watch (§41, §42): who owes information, told in time and flagged when late.

- Work updates: every active unit but the General Office (which reads them) files both parts
  (summary and plan) of each period. One that has not is reminded `remind_days_before` days
  before the due date and again on it; one that has not filed by the end of the due date is
  told it is late and counted in `docex_work_updates_late_total`.
- Requests: one whose deadline passed with neither a reply nor a delay explained in time is
  flagged to both sides and counted in `docex_requests_overdue_total`.

Only due dates from the day this watch started are looked at, so a new exchange does not flag
every unit for filings nobody asked of it. Every check is idempotent: what was sent is recorded
in the ledger (`info_flags`, `overdue_at`), so a repeat or a restart sends nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta

import msgspec
import structlog

from docex import wire
from docex.core import texts
from docex.ledger.records import StoredInfo
from docex.router.handler import CommandHandler
from docex.router.ledger_health import LedgerHealth
from docex.router.work_updates import due_date, filed_in_full, periods_around

log = structlog.get_logger("docex.router")


class InfoWatch:
    def __init__(
        self,
        handler: CommandHandler,
        ledger_health: LedgerHealth,
        wake_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.handler = handler
        self.ledger = handler.ledger
        self.ledger_health = ledger_health
        self.metrics = handler.metrics
        self.wake_outbox = wake_outbox
        self.started = self._today()

    async def run(self) -> None:
        """Check every `check_interval_s`. A check the ledger cannot commit is tried again
        until it can (checks are idempotent); any other failure is the supervisor's."""
        while True:
            await self.ledger_health.retry("infowatch", self.check)
            await asyncio.sleep(self.handler.config.information.check_interval_s)

    def check(self) -> None:
        now = self.handler.calendar.stamp(self.handler.clock.now())
        with self.ledger.transaction():
            for request in self.ledger.requests_past_deadline(now):
                self._overdue(request, now)
            today = self._today()
            for period in periods_around(today):
                self._watch_updates(period, today, now)
        self.wake_outbox()

    def _overdue(self, request: StoredInfo, now: str) -> None:
        self.ledger.mark_info(request.id, "overdue_at", now)
        title = msgspec.msgpack.decode(request.item, type=wire.InfoItem).title
        text = texts.request_overdue(title, request.deadline, replied=bool(request.replied_at))
        for unit in [request.sender, *self.ledger.info_recipients(request.id)]:
            self.handler.tell(
                unit,
                wire.InfoNotice(
                    kind="overdue",
                    subject=request.id,
                    due=request.deadline,
                    at=now,
                    text=text,
                ),
            )
        self.metrics.requests_overdue.inc()
        log.warning("request_overdue", info_id=request.id, deadline=request.deadline)

    def _watch_updates(self, period: str, today: date, now: str) -> None:
        settings = self.handler.config.information
        due = due_date(period, settings)
        if due < self.started:
            return
        if today > due:
            what = "late"
        elif today == due:
            what = "reminder_due"
        elif today >= due - timedelta(days=settings.remind_days_before):
            what = "reminder_before"
        else:
            return
        for unit in self._units_owing():
            filed = self.ledger.filed_parts(unit, period)
            if filed_in_full(filed, by=due if what == "late" else None):
                continue
            if not self.ledger.flag_once(unit, period, what, now):
                continue
            self._tell_update(unit, period, due, what, now)

    def _tell_update(self, unit: str, period: str, due: date, what: str, now: str) -> None:
        if what == "late":
            text = texts.work_update_late(period, due.isoformat())
            self.metrics.work_updates_late.inc()
            log.warning("work_update_late", unit=unit, period=period, due=due.isoformat())
        else:
            text = texts.work_update_reminder(period, due.isoformat())
            self.metrics.info_reminders.inc()
        self.handler.tell(
            unit,
            wire.InfoNotice(
                kind="late" if what == "late" else "reminder",
                subject=period,
                due=due.isoformat(),
                at=now,
                text=text,
            ),
        )

    def _units_owing(self) -> list[str]:
        config = self.handler.config
        return [
            unit.id
            for unit in config.units
            if unit.status == "active" and unit.id != config.router.office_unit
        ]

    def _today(self) -> date:
        return self.handler.clock.now().astimezone(self.handler.calendar.timezone).date()
