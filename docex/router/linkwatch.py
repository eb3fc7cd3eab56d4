"""Link watch (§46, §47): the General Office hears at once when a unit's system or the exchange
itself stops exchanging, and a fault not cleared within `paper_fallback_hours` (24) switches
the affected documents to paper. When a link counts as down, and when as back, is decided in
docex/core/links.py; here the ledger is read and written, notices sent, PDFs written and
metrics set.

Faults live in the ledger, so a restart keeps their start times and the 24-hour clock. Every
check is idempotent: calling it again, or from a restarted router, issues nothing twice.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import msgspec
import structlog

from docex import wire
from docex.config import Unit
from docex.core import links, texts
from docex.core.links import EXCHANGE, Back, Down
from docex.ledger.records import Delivery, Fault, StoredDocument
from docex.router.handler import CommandHandler
from docex.router.ledger_health import LedgerHealth
from docex.router.paper import PaperDocument, PaperNotice, render

log = structlog.get_logger("docex.router")


class LinkWatch:
    def __init__(
        self,
        handler: CommandHandler,
        ledger_health: LedgerHealth,
        broker_connected: Callable[[], bool],
        wake_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.handler = handler
        self.ledger = handler.ledger
        self.ledger_health = ledger_health
        self.metrics = handler.metrics
        self.broker_connected = broker_connected
        # Notices leave at once, not at the outbox publisher's next look.
        self.wake_outbox = wake_outbox
        self.started = handler.clock.now()

    async def run(self) -> None:
        """Check every `check_interval_s`. A check the ledger cannot commit is tried again
        until it can (checks are idempotent); any other failure is the supervisor's."""
        while True:
            await self.ledger_health.retry("linkwatch", self.check)
            await asyncio.sleep(self.handler.config.links.check_interval_s)

    def check(self) -> None:
        """Open and close faults as the links are now, and write the paper notices that are due."""
        now = self.handler.clock.now()
        with self.ledger.transaction():
            self._forget_units_gone(now)
            exchange_down = self._watch_exchange(now)
            listening_since = links.listening_since(self.started, self.ledger.last_ended(EXCHANGE))
            for unit in self._active_units():
                self._watch_unit(unit, now, exchange_down, listening_since)
        settings = self.handler.config.links
        for fault in links.due_for_paper(self.ledger.open_faults(), now, settings):
            self._fall_back_to_paper(fault, now)
        self._set_metrics(now)
        self.wake_outbox()

    def _watch_exchange(self, now: datetime) -> bool:
        """Returns whether the exchange itself is down."""
        fault = self.ledger.open_fault(EXCHANGE)
        connected = self.broker_connected()
        match links.judge_exchange(connected, fault):
            case Down(kind):
                self._start(EXCHANGE, kind, now)
            case Back():
                assert fault is not None
                self._recovered(fault, now, [unit.id for unit in self._active_units()])
        return not connected

    def _forget_units_gone(self, now: datetime) -> None:
        """A unit revoked or merged away (§9) had its pending documents moved on reload; its
        fault is no longer anyone's to clear."""
        active = {unit.id for unit in self._active_units()}
        for fault in links.left_behind(self.ledger.open_faults(), active):
            self.ledger.end_fault(fault.id, self.handler.calendar.stamp(now))
            log.info("fault_closed_unit_gone", scope=fault.scope, fault_id=fault.id)

    def _watch_unit(
        self, unit: Unit, now: datetime, exchange_down: bool, listening_since: datetime
    ) -> None:
        fault = self.ledger.open_fault(unit.id)
        link = self.ledger.link(unit.id)
        untaken = self.ledger.oldest_untaken(unit.id, link.last_seen_at if link else None)
        verdict = links.judge_unit(
            fault,
            link,
            untaken,
            exchange_down=exchange_down,
            now=now,
            listening_since=listening_since,
            settings=self.handler.config.links,
        )
        match verdict:
            case Down(kind):
                self._start(unit.id, kind, now)
            case Back():
                assert fault is not None
                self._recovered(fault, now, [unit.id])

    def _start(self, scope: str, kind: str, now: datetime) -> None:
        at = self.handler.calendar.stamp(now)
        office = self.handler.config.router.office_unit
        fault = self.ledger.start_fault(scope, kind, at, office_notified=bool(office))
        fallback_hours = self.handler.config.links.paper_fallback_hours
        text = texts.fault_notice(self._describe(fault), at, fallback_hours)
        if office:
            self.handler.tell(office, self._notice("fault", fault, at, text))
        log.warning("link_down", scope=scope, fault=kind, fault_id=fault.id, office=office)

    def _recovered(self, fault: Fault, now: datetime, units: list[str]) -> None:
        at = self.handler.calendar.stamp(now)
        self.ledger.end_fault(fault.id, at)
        text = texts.recovered_notice(self._describe(fault), fault.started_at, at)
        office = self.handler.config.router.office_unit
        for unit in dict.fromkeys([office, *units]):
            if unit:
                self.handler.tell(unit, self._notice("recovered", fault, at, text))
        log.info(
            "link_restored",
            scope=fault.scope,
            fault=fault.kind,
            fault_id=fault.id,
            lasted_s=links.fault_age(fault, now).total_seconds(),
        )

    def _fall_back_to_paper(self, fault: Fault, now: datetime) -> None:
        """§47: a notice for each affected unit that has none for this fault yet, and another
        when documents have been sent to it since. A notice that cannot be written changes
        nothing (its transaction rolls back) and is tried again at the next check."""
        affected = [unit for unit in self._active_units() if links.affects(fault, unit.id)]
        failed = False
        for unit in affected:
            try:
                with self.ledger.transaction():
                    self._paper_notice(fault, unit, now)
            except Exception:
                failed = True
                self.metrics.paper_notice_failures.inc()
                log.exception("paper_notice_failed", fault_id=fault.id, unit=unit.id)
        if not failed and fault.paper_issued_at is None:
            with self.ledger.transaction():
                self.ledger.mark_paper_issued(fault.id, self.handler.calendar.stamp(now))

    def _paper_notice(self, fault: Fault, unit: Unit, now: datetime) -> None:
        earlier = len(self.ledger.notices(fault.id, unit.id))
        if not links.paper_notice_due(earlier, bool(self.ledger.pending_for(unit.id))):
            return
        sequence = earlier + 1
        at = self.handler.calendar.stamp(now)
        config = self.handler.config
        moved = self.handler.lifecycle.to_paper(
            unit.id, fault.kind, texts.paper_status(fault.id, unit.name)
        )
        path = Path(config.links.spool_dir, f"fault-{fault.id}", f"{_safe(unit.id)}-{sequence}.pdf")
        render(self._sheet(fault, unit, sequence, at, moved), path)
        doc_ids = [document.id for document, _ in moved]
        notice_id = self.ledger.add_notice(
            fault.id, unit.id, str(path), at, doc_ids, pdf=path.read_bytes()
        )
        text = texts.paper_notice(
            self._describe(fault),
            config.links.paper_fallback_hours,
            notice_id,
            unit.name,
            [(document.doc_no, document.title) for document, _ in moved],
        )
        message = msgspec.structs.replace(
            self._notice("paper", fault, at, text), documents=doc_ids, recipient=unit.id
        )
        for recipient in dict.fromkeys([config.router.office_unit, unit.id]):
            if recipient:
                self.handler.tell(recipient, message)
        self.metrics.paper_notices.inc()
        log.warning(
            "paper_notice_written",
            notice_id=notice_id,
            fault_id=fault.id,
            unit=unit.id,
            path=str(path),
            documents=doc_ids,
        )

    def _sheet(
        self,
        fault: Fault,
        unit: Unit,
        sequence: int,
        at: str,
        moved: list[tuple[StoredDocument, Delivery]],
    ) -> PaperNotice:
        config = self.handler.config
        office = config.unit(config.router.office_unit)
        return PaperNotice(
            unit_id=unit.id,
            unit_name=unit.name,
            fault_id=fault.id,
            fault=self._describe(fault),
            started_at=fault.started_at,
            created_at=at,
            fallback_hours=config.links.paper_fallback_hours,
            sequence=sequence,
            office_name=office.name if office else texts.DEFAULT_OFFICE_NAME,
            documents=[
                PaperDocument(
                    doc_no=document.doc_no,
                    title=document.title,
                    sender=self._name(document.sender),
                    role=delivery.role,
                    print_quota=delivery.print_quota,
                )
                for document, delivery in moved
            ],
        )

    def _set_metrics(self, now: datetime) -> None:
        open_faults = self.ledger.open_faults()
        down = {fault.scope for fault in open_faults}
        self.metrics.link_up.clear()
        for unit in self._active_units():
            self.metrics.link_up.labels(unit.id).set(0 if unit.id in down else 1)
        self.metrics.fault_age.clear()
        for fault in open_faults:
            age = links.fault_age(fault, now).total_seconds()
            self.metrics.fault_age.labels(fault.scope).set(age)

    def _notice(self, kind: wire.NoticeKind, fault: Fault, at: str, text: str) -> wire.Notice:
        return wire.Notice(
            kind=kind,
            fault_id=fault.id,
            scope=fault.scope,
            fault=fault.kind,
            started_at=fault.started_at,
            at=at,
            text=text,
        )

    def _describe(self, fault: Fault) -> str:
        return texts.fault_description(fault.kind, self._name(fault.scope), fault.scope)

    def _name(self, unit_id: str) -> str:
        unit = self.handler.config.unit(unit_id)
        return unit.name if unit else unit_id

    def _active_units(self) -> list[Unit]:
        return [unit for unit in self.handler.config.units if unit.status == "active"]


def _safe(unit_id: str) -> str:
    """A unit id as a file name: ids are free text in the config."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", unit_id)
