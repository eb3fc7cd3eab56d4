"""When a link is down, when it is back, and when its documents go to paper (§46, §47): the
link watch's decisions over what the ledger knows and the time now. docex/router/linkwatch.py
reads the ledger, asks here, and writes, notifies and prints.

When a link is down:
- the exchange itself (scope "*"): the router's own broker connection is down;
- a unit that has ever sent a heartbeat: nothing heard from it (a heartbeat or any command) for
  `heartbeat_timeout_s`;
- any unit: a document delivered to its queue `queue_timeout_s` ago is still untaken, and
  nothing has been heard from the unit since it was delivered. This watches the units that run
  no heartbeat adapter (the CLI, used now and then); a unit that keeps beating never meets it.
Silence counts only from when the router could have heard it: not before the watch started,
and not before the exchange's last fault ended. While the exchange itself is down no unit is
judged: the units' silence is explained, and whether one is back can wait for the exchange.

A unit's fault ends when the unit is heard from after the fault began; the exchange's fault
ends when the broker connection is back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

EXCHANGE = "*"  # the scope of a fault of the exchange itself

# Why a link is down, as the ledger and the notices name it.
HEARTBEAT_LOST = "heartbeat_lost"
QUEUE_UNTAKEN = "queue_untaken"
BROKER_UNREACHABLE = "broker_unreachable"


class LinkFacts(Protocol):
    """What these decisions read of a unit's link (the ledger's `Link` has it)."""

    @property
    def last_seen_at(self) -> str: ...
    @property
    def heartbeats(self) -> bool: ...


class FaultFacts(Protocol):
    """What these decisions read of a fault (the ledger's `Fault` has it)."""

    @property
    def scope(self) -> str: ...
    @property
    def started_at(self) -> str: ...


F = TypeVar("F", bound=FaultFacts)


class LinkTimes(Protocol):
    """The times of `[links]` these decisions use (the config's `LinkSettings` has them)."""

    @property
    def heartbeat_timeout_s(self) -> float: ...
    @property
    def queue_timeout_s(self) -> float: ...
    @property
    def paper_fallback_hours(self) -> float: ...


@dataclass(frozen=True)
class Down:
    """Open a fault: the link is down, for `kind`."""

    kind: str


@dataclass(frozen=True)
class Back:
    """End the open fault: the link is back."""


def judge_exchange(broker_connected: bool, fault: FaultFacts | None) -> Down | Back | None:
    """The exchange is down exactly while the router's broker connection is."""
    if broker_connected:
        return Back() if fault is not None else None
    return Down(BROKER_UNREACHABLE) if fault is None else None


def listening_since(watch_started: datetime, exchange_fault_ended: str | None) -> datetime:
    """From when the router could have heard the units: silence before that is not theirs."""
    if exchange_fault_ended is None:
        return watch_started
    return max(watch_started, instant(exchange_fault_ended))


def judge_unit(
    fault: FaultFacts | None,
    link: LinkFacts | None,
    oldest_untaken: str | None,
    *,
    exchange_down: bool,
    now: datetime,
    listening_since: datetime,
    settings: LinkTimes,
) -> Down | Back | None:
    """`oldest_untaken`: when the oldest delivery the unit has not taken, of those delivered
    after it was last heard from, was delivered."""
    if exchange_down:
        return None
    if fault is not None:
        heard = link is not None and instant(link.last_seen_at) > instant(fault.started_at)
        return Back() if heard else None
    if link is not None and link.heartbeats:
        silent_since = max(instant(link.last_seen_at), listening_since)
        if now - silent_since > timedelta(seconds=settings.heartbeat_timeout_s):
            return Down(HEARTBEAT_LOST)
    if oldest_untaken is not None:
        waiting_since = max(instant(oldest_untaken), listening_since)
        if now - waiting_since > timedelta(seconds=settings.queue_timeout_s):
            return Down(QUEUE_UNTAKEN)
    return None


def left_behind(open_faults: Iterable[F], active_units: Collection[str]) -> list[F]:
    """The faults of units revoked or merged away (§9): their pending documents were moved on
    reload, and nobody is left to clear the fault."""
    return [f for f in open_faults if f.scope != EXCHANGE and f.scope not in active_units]


def due_for_paper(open_faults: Iterable[F], now: datetime, settings: LinkTimes) -> list[F]:
    """§47: the faults not cleared within `paper_fallback_hours`."""
    fallback = timedelta(hours=settings.paper_fallback_hours)
    return [f for f in open_faults if now - instant(f.started_at) >= fallback]


def affects(fault: FaultFacts, unit: str) -> bool:
    """Whether the unit's documents go to paper for this fault: a unit's fault is its own, and
    the exchange's is every unit's."""
    return fault.scope in (EXCHANGE, unit)


def paper_notice_due(notices_so_far: int, documents_pending: bool) -> bool:
    """§47: each affected unit gets one paper notice for a fault, even with nothing pending,
    and a further one only when documents were sent to it since."""
    return notices_so_far == 0 or documents_pending


def fault_age(fault: FaultFacts, now: datetime) -> timedelta:
    return now - instant(fault.started_at)


def instant(stamp: str) -> datetime:
    """A ledger stamp carries its UTC offset, so stamps compare as instants."""
    return datetime.fromisoformat(stamp)
