"""The read model: the exchange's state as an operator looks at it, computed from the read side
of the ledger, so `docex router status` and a web board show the same thing and neither knows
how the ledger keeps it.

Times are spans from `now`, as asked: how long a fault has been open, how long until its
documents go on paper (§47; negative once due), how long since a unit was heard from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from docex.config import Config
from docex.ledger.port import LedgerReads
from docex.ledger.records import EXCHANGE, Fault


@dataclass(frozen=True)
class OpenFault:
    scope: str  # a unit id, or EXCHANGE
    kind: str
    open_for: timedelta
    paper_issued_at: str | None
    paper_in: timedelta


@dataclass(frozen=True)
class UnitLink:
    unit: str
    down: bool
    heard_ago: timedelta | None  # None: never heard from
    heartbeats: bool
    untaken: int
    oldest_untaken_ago: timedelta | None


@dataclass(frozen=True)
class ExchangeStatus:
    faults: list[OpenFault]
    to_publish: int
    sms_waiting: int
    set_aside: int
    deliveries_by_state: list[tuple[str, int]]
    units: list[UnitLink]  # active units, in the order of the configuration


def exchange_status(ledger: LedgerReads, config: Config, now: datetime) -> ExchangeStatus:
    faults = ledger.open_faults()
    fallback = timedelta(hours=config.links.paper_fallback_hours)
    down = {fault.scope for fault in faults}
    untaken = dict(ledger.pending_receipts())
    units = [
        _unit_link(ledger, unit.id, unit.id in down or EXCHANGE in down, untaken, now)
        for unit in config.units
        if unit.status == "active"
    ]
    return ExchangeStatus(
        faults=[_open_fault(fault, now, fallback) for fault in faults],
        to_publish=ledger.outbox_depth(),
        sms_waiting=ledger.sms_depth(),
        set_aside=ledger.dead_outbox_rows(),
        deliveries_by_state=ledger.deliveries_by_state(),
        units=units,
    )


def _open_fault(fault: Fault, now: datetime, fallback: timedelta) -> OpenFault:
    started = datetime.fromisoformat(fault.started_at)
    return OpenFault(
        scope=fault.scope,
        kind=fault.kind,
        open_for=now - started,
        paper_issued_at=fault.paper_issued_at,
        paper_in=started + fallback - now,
    )


def _unit_link(
    ledger: LedgerReads, unit: str, down: bool, untaken: dict[str, int], now: datetime
) -> UnitLink:
    link = ledger.link(unit)
    oldest = ledger.oldest_untaken(unit, None)
    return UnitLink(
        unit=unit,
        down=down,
        heard_ago=now - datetime.fromisoformat(link.last_seen_at) if link else None,
        heartbeats=link.heartbeats if link else False,
        untaken=untaken.get(unit, 0),
        oldest_untaken_ago=now - datetime.fromisoformat(oldest) if oldest else None,
    )
