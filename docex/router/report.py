"""Per-unit statistics for a year or a month (`docex report`), so the General Office sees at
a glance who is late.

Documents count by exchange date (§30, §33): a document counts in the period its sent
exchange date falls in. A delivery is received on time when its receipt's exchange date is no
later than the first workday after the sent exchange date; one not received while that day
has not passed (`today` in the exchange's time zone) is not yet due and is left out, like
withdrawn, returned, forwarded and paper deliveries, which were never expected to be
received. Returns and
resend requests are the commands the unit made in the period; withdrawals are the deliveries
of its documents it withdrew. Work updates count the filings (both parts) due in the period,
and whether each was in by its due date; information counts items sent in the period.
"""

from __future__ import annotations

import csv
from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta
from pathlib import Path

from docex.config import Config, InformationSettings
from docex.core.states import TAKEN_AWAY, DeliveryState
from docex.exchange_date import ExchangeCalendar
from docex.ledger.port import LedgerReads
from docex.router.work_updates import due_date, filed_in_full


@dataclass
class UnitStatistics:
    unit: str
    name: str
    documents_sent: int = 0
    documents_received: int = 0
    receipts_expected: int = 0
    received_on_time: int = 0
    on_time_rate: str = ""
    returns: int = 0
    withdrawals: int = 0
    resend_requests: int = 0
    work_updates_due: int = 0
    work_updates_on_time: int = 0
    requests_overdue: int = 0
    information_sent: int = 0
    gov_info_submitted: int = 0
    gov_info_adopted: int = 0


def statistics(
    config: Config, ledger: LedgerReads, period: str, today: date
) -> list[UnitStatistics]:
    """One row per unit, in the order of the configuration; `today` decides which work-update
    filings and which receipts are already due. Raises PeriodError for a period that is
    neither a year nor a month."""
    filings = _filings(period, config.information)
    calendar = config.calendar()
    rows = {unit.id: UnitStatistics(unit.id, unit.name) for unit in config.units}
    documents: dict[str, set[str]] = {}
    for doc_id, sender, recipient, state, sent_date, received_date in ledger.deliveries_sent_in(
        period
    ):
        documents.setdefault(sender, set()).add(doc_id)
        if sender in rows and state == DeliveryState.WITHDRAWN:
            rows[sender].withdrawals += 1
        if recipient not in rows or state in TAKEN_AWAY:
            continue
        deadline = _next_workday(calendar, date.fromisoformat(sent_date)).isoformat()
        if received_date is None and today.isoformat() <= deadline:
            continue  # not yet due: neither on time nor late
        rows[recipient].receipts_expected += 1
        if received_date is not None and received_date <= deadline:
            rows[recipient].received_on_time += 1
    for sender, doc_ids in documents.items():
        _add(rows, sender, "documents_sent", len(doc_ids))
    for unit, count in ledger.received_in(period).items():
        _add(rows, unit, "documents_received", count)
    for unit, count in ledger.commands_accepted_in("return", period).items():
        _add(rows, unit, "returns", count)
    for unit, count in ledger.commands_accepted_in("resend_request", period).items():
        _add(rows, unit, "resend_requests", count)
    for unit, count in ledger.requests_overdue_in(period).items():
        _add(rows, unit, "requests_overdue", count)
    for sender, kind, adopted_at in ledger.info_sent_in(period):
        if kind == "reply":
            continue
        _add(rows, sender, "information_sent", 1)
        if kind == "gov_info":
            _add(rows, sender, "gov_info_submitted", 1)
            _add(rows, sender, "gov_info_adopted", 1 if adopted_at else 0)
    for row in rows.values():
        if row.receipts_expected:
            row.on_time_rate = f"{row.received_on_time / row.receipts_expected:.1%}"
        if not _owes_updates(config, row.unit):
            continue
        for filing, due in filings:
            if due >= today:
                continue
            row.work_updates_due += 1
            if filed_in_full(ledger.filed_parts(row.unit, filing), by=due):
                row.work_updates_on_time += 1
    return list(rows.values())


def write_csv(rows: list[UnitStatistics], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig") as file:
        writer = csv.writer(file)
        writer.writerow([field.name for field in fields(UnitStatistics)])
        writer.writerows(astuple(row) for row in rows)


def _filings(period: str, settings: InformationSettings) -> list[tuple[str, date]]:
    """The work-update filings due in the period, with their due dates. Raises PeriodError
    for a period that is neither a year nor a month."""
    due_date(period, settings)
    year = period[:4]
    candidates = [year] + [f"{year}-{month:02d}" for month in range(1, 13)]
    dues = [(filing, due_date(filing, settings)) for filing in candidates]
    return [(filing, due) for filing, due in dues if due.isoformat().startswith(period)]


def _owes_updates(config: Config, unit_id: str) -> bool:
    """As the watch has it (docex/router/info_watch.py): active units but the office, which reads
    the updates. A revoked unit owes nothing, including for the time before it was revoked."""
    unit = config.unit(unit_id)
    active = unit is not None and unit.status == "active"
    return active and unit_id != config.router.office_unit


def _next_workday(calendar: ExchangeCalendar, day: date) -> date:
    day += timedelta(days=1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def _add(rows: dict[str, UnitStatistics], unit: str, field: str, count: int) -> None:
    """Units no longer configured are left out of the report."""
    if unit in rows:
        setattr(rows[unit], field, getattr(rows[unit], field) + count)
