"""The link watch's decisions (docex/core/links.py), on plain data and a fixed time: who is down
and why, who is back, whose documents go to paper and when. tests/edge/test_linkwatch.py drives the
same rules through a real router."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from docex.config import LinkSettings
from docex.core.links import (
    BROKER_UNREACHABLE,
    EXCHANGE,
    HEARTBEAT_LOST,
    QUEUE_UNTAKEN,
    Back,
    Down,
    affects,
    due_for_paper,
    judge_exchange,
    judge_unit,
    left_behind,
    listening_since,
    paper_notice_due,
)

SETTINGS = LinkSettings()  # heartbeats 120 s, queue 4 h, paper after 24 h
HEARTBEAT_TIMEOUT = timedelta(seconds=SETTINGS.heartbeat_timeout_s)
QUEUE_TIMEOUT = timedelta(seconds=SETTINGS.queue_timeout_s)
FALLBACK = timedelta(hours=SETTINGS.paper_fallback_hours)
MS = timedelta(milliseconds=1)

STARTED = datetime.fromisoformat("2026-11-26T08:00:00.000+08:00")  # the watch started


def stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Heard:
    last_seen_at: str
    heartbeats: bool


@dataclass(frozen=True)
class Fault:
    scope: str
    started_at: str


def judge(
    now: datetime,
    link: Heard | None = None,
    untaken: datetime | None = None,
    fault: Fault | None = None,
    exchange_down: bool = False,
    since: datetime = STARTED,
) -> Down | Back | None:
    return judge_unit(
        fault,
        link,
        stamp(untaken) if untaken else None,
        exchange_down=exchange_down,
        now=now,
        listening_since=since,
        settings=SETTINGS,
    )


def test_a_unit_silent_past_the_heartbeat_timeout_is_down() -> None:
    """§46: a unit that beats is down once nothing was heard from it for the timeout."""
    last = STARTED + timedelta(minutes=5)
    beating = Heard(stamp(last), heartbeats=True)

    assert judge(last + HEARTBEAT_TIMEOUT, beating) is None
    assert judge(last + HEARTBEAT_TIMEOUT + MS, beating) == Down(HEARTBEAT_LOST)


def test_silence_counts_only_from_when_the_router_listened() -> None:
    """§46: silence before the watch started, or while the exchange was down, is not the
    unit's."""
    beating = Heard(stamp(STARTED - timedelta(days=2)), heartbeats=True)
    exchange_back = STARTED + timedelta(hours=1)
    since = listening_since(STARTED, stamp(exchange_back))

    assert since == exchange_back
    assert listening_since(STARTED, stamp(STARTED - timedelta(hours=1))) == STARTED
    assert listening_since(STARTED, None) == STARTED
    assert judge(STARTED + HEARTBEAT_TIMEOUT, beating) is None
    assert judge(exchange_back + HEARTBEAT_TIMEOUT, beating, since=since) is None
    assert judge(exchange_back + HEARTBEAT_TIMEOUT + MS, beating, since=since) == Down(
        HEARTBEAT_LOST
    )


def test_a_unit_without_heartbeats_is_down_only_for_a_delivery_untaken_past_the_timeout() -> None:
    """§46: a CLI unit's silence is no fault by itself; a delivery it has left untaken for
    `queue_timeout_s` since it was last heard from is."""
    delivered = STARTED + timedelta(hours=1)
    cli = Heard(stamp(STARTED), heartbeats=False)
    later = delivered + QUEUE_TIMEOUT + MS

    assert judge(STARTED + timedelta(days=30), cli) is None
    assert judge(STARTED + timedelta(days=30)) is None
    assert judge(delivered + QUEUE_TIMEOUT, cli, untaken=delivered) is None
    assert judge(later, cli, untaken=delivered) == Down(QUEUE_UNTAKEN)
    assert judge(later, None, untaken=delivered) == Down(QUEUE_UNTAKEN)


def test_a_delivery_waits_only_from_when_the_router_listened() -> None:
    """§46: a delivery left in the queue while the router was not watching counts from the
    watch's start."""
    delivered = STARTED - timedelta(days=1)

    assert judge(STARTED + QUEUE_TIMEOUT, untaken=delivered) is None
    assert judge(STARTED + QUEUE_TIMEOUT + MS, untaken=delivered) == Down(QUEUE_UNTAKEN)


def test_nobody_is_blamed_while_the_exchange_itself_is_down() -> None:
    """§46: while the router's broker link is down the units' silence is explained: no unit
    fault is opened, and none is cleared until the exchange is back."""
    long_after = STARTED + timedelta(days=3)
    beating = Heard(stamp(STARTED), heartbeats=True)
    fault = Fault("edu", stamp(STARTED - timedelta(hours=1)))

    assert judge(long_after, beating, untaken=STARTED) == Down(HEARTBEAT_LOST)
    assert judge(long_after, beating, untaken=STARTED, exchange_down=True) is None
    assert judge(long_after, beating, fault=fault) == Back()
    assert judge(long_after, beating, fault=fault, exchange_down=True) is None


def test_the_exchange_is_down_exactly_while_the_broker_link_is() -> None:
    """§46: the exchange's own fault opens when the broker link drops, once, and ends when it
    is back."""
    fault = Fault(EXCHANGE, stamp(STARTED))

    assert judge_exchange(broker_connected=False, fault=None) == Down(BROKER_UNREACHABLE)
    assert judge_exchange(broker_connected=False, fault=fault) is None
    assert judge_exchange(broker_connected=True, fault=fault) == Back()
    assert judge_exchange(broker_connected=True, fault=None) is None


def test_a_unit_is_back_when_heard_from_after_its_fault_began() -> None:
    """§46: any word from the unit after the fault began ends it; one from before does not."""
    began = STARTED + timedelta(hours=2)
    fault = Fault("edu", stamp(began))
    now = began + timedelta(hours=1)

    assert judge(now, Heard(stamp(began + MS), heartbeats=True), fault=fault) == Back()
    assert judge(now, Heard(stamp(began + MS), heartbeats=False), fault=fault) == Back()
    assert judge(now, Heard(stamp(began), heartbeats=True), fault=fault) is None
    assert judge(now, None, fault=fault) is None


def test_an_open_fault_is_not_opened_again() -> None:
    """§46: a unit still silent keeps its one fault (and the office its one notice)."""
    fault = Fault("edu", stamp(STARTED))
    silent = Heard(stamp(STARTED - timedelta(hours=1)), heartbeats=True)

    assert judge(STARTED + timedelta(days=1), silent, untaken=STARTED, fault=fault) is None


def test_a_fault_goes_to_paper_at_the_fallback_time() -> None:
    """§47: a fault not cleared within `paper_fallback_hours` switches to paper."""
    began = STARTED + timedelta(hours=3)
    young, old = Fault("edu", stamp(began)), Fault(EXCHANGE, stamp(STARTED))

    assert due_for_paper([young, old], began + FALLBACK - MS, SETTINGS) == [old]
    assert due_for_paper([young, old], began + FALLBACK, SETTINGS) == [young, old]


def test_each_unit_gets_one_paper_notice_and_more_only_for_documents_sent_since() -> None:
    """§47: the first notice is written even with nothing pending; a later check writes
    another only when documents have been sent to the unit since."""
    assert paper_notice_due(notices_so_far=0, documents_pending=False)
    assert paper_notice_due(notices_so_far=0, documents_pending=True)
    assert not paper_notice_due(notices_so_far=1, documents_pending=False)
    assert paper_notice_due(notices_so_far=1, documents_pending=True)


def test_the_exchanges_fault_sends_every_units_documents_to_paper() -> None:
    """§47: a unit's fault affects that unit; the exchange's, every unit."""
    assert affects(Fault("edu", stamp(STARTED)), "edu")
    assert not affects(Fault("edu", stamp(STARTED)), "finance")
    assert affects(Fault(EXCHANGE, stamp(STARTED)), "finance")


def test_the_fault_of_a_unit_that_left_is_closed() -> None:
    """§9, §46: a revoked or merged unit's fault has nobody left to clear it; the exchange's
    fault is nobody's unit."""
    gone, active, exchange = Fault("old", "s"), Fault("edu", "s"), Fault(EXCHANGE, "s")

    assert left_behind([gone, active, exchange], {"edu", "finance"}) == [gone]
