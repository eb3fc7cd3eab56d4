"""The read model (docex/ledger/queries.py): what `docex router status` and the board show."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from docex.config import Config, load_config
from docex.core.states import DeliveryState
from docex.ledger.port import Ledger
from docex.ledger.queries import ExchangeStatus, OpenFault, UnitLink, exchange_status
from docex.ledger.records import EXCHANGE
from tests.core.test_config import MINIMAL, unit
from tests.ledger.stored import add_document

NOW = datetime.fromisoformat("2026-03-02T12:00:00+08:00")


def at(hh_mm: str) -> str:
    return f"2026-03-02T{hh_mm}:00+08:00"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "router.toml"
    path.write_text(MINIMAL + unit("a") + unit("b") + unit("c", extra='status = "revoked"'))
    return load_config(path)


def test_the_status_of_a_working_day(ledger: Ledger, config: Config) -> None:
    """§46, §47: a unit's open fault marks its link down and counts down to paper."""
    with ledger.transaction():
        ledger.heard_from("a", at("11:50"), heartbeat=True)
        ledger.start_fault("a", "heartbeat_lost", at("10:00"), office_notified=True)
        add_document(ledger, "d1", ["a", "b", "c"])
        add_document(ledger, "d2", ["a"])
        ledger.mark_delivered("d1", "a", at("11:30"))
        ledger.mark_delivered("d1", "b", at("11:00"))
        ledger.mark_received("d1", "b", at("11:40"), "2026-03-02")
        assert ledger.move("d1", "c", DeliveryState.RETURNED)
        for number in range(3):
            ledger.enqueue("a", f"m{number}", "status")
        ledger.set_aside(ledger.outbox_batch(1)[0], "too_large", "too big", at("11:55"))
        ledger.queue_sms("a", "财政局", "13800000000", "请及时签收", at("11:56"))

    assert exchange_status(ledger, config, NOW) == ExchangeStatus(
        faults=[
            OpenFault(
                scope="a",
                kind="heartbeat_lost",
                open_for=timedelta(hours=2),
                paper_issued_at=None,
                paper_in=timedelta(hours=22),
            )
        ],
        to_publish=2,
        sms_waiting=1,
        set_aside=1,
        deliveries_by_state=[("delivered", 1), ("queued", 1), ("received", 1), ("returned", 1)],
        units=[
            UnitLink(
                unit="a",
                down=True,
                heard_ago=timedelta(minutes=10),
                heartbeats=True,
                untaken=2,
                oldest_untaken_ago=timedelta(minutes=30),
            ),
            UnitLink(
                unit="b",
                down=False,
                heard_ago=None,
                heartbeats=False,
                untaken=0,
                oldest_untaken_ago=None,
            ),
        ],
    )


def test_the_exchange_down_takes_every_link_down(ledger: Ledger, config: Config) -> None:
    """§47: past the fallback, the fault shows when its documents went on paper."""
    with ledger.transaction():
        fault = ledger.start_fault(EXCHANGE, "broker_unreachable", at("10:00"), False)
        ledger.mark_paper_issued(fault.id, at("11:00"))
        ledger.heard_from("b", at("09:00"), heartbeat=False)

    status = exchange_status(ledger, config, NOW)

    assert [(f.scope, f.paper_issued_at) for f in status.faults] == [(EXCHANGE, at("11:00"))]
    assert [(link.unit, link.down) for link in status.units] == [("a", True), ("b", True)]
    assert status.units[1].heard_ago == timedelta(hours=3)
    assert not status.units[1].heartbeats
    assert status.deliveries_by_state == []
