"""A year the holiday calendar does not know (§30, §33): warned of from 1 December, refused
when it comes, unless the operator has configured or explicitly allowed it.

The year is the first chinesecalendar does not cover (2027 with 1.11), so these tests move on
as the package learns new years."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from docex import wire
from docex.config import load_config
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory
from tests.core.test_exchange_date import UNCOVERED, weekday_from
from tests.documents import sealed_envelope, submit
from tests.edge.test_lifecycle import ask_to_print
from tests.edge.test_operations import edit, get

DECEMBER_FIRST = datetime(UNCOVERED - 1, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
NEW_YEARS_EVE_LATE = datetime(UNCOVERED - 1, 12, 31, 8, 0, tzinfo=UTC)  # 16:00 in Beijing


@pytest.fixture
def config_file(config_file: Path) -> Path:
    """Strict, as an exchange is until its operator allows a year (tests/conftest.py allows
    the years around today, for routers on the real clock)."""
    text = re.sub(
        r"allow_uncovered_years = \[[0-9, ]*\]",
        "allow_uncovered_years = []",
        config_file.read_text(),
    )
    config_file.write_text(text)
    return config_file


@pytest_asyncio.fixture
async def december(
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    free_port: int,
    unit_client_for: UnitClientFactory,
) -> AsyncIterator[tuple[Router, UnitClient]]:
    clock.current = DECEMBER_FIRST
    edit(config_file, "metrics_port = 0", f"metrics_port = {free_port}")
    router = Router(load_config(config_file), clock, config_path=config_file)
    await router.start()
    async with unit_client_for("gov-office") as client:
        yield router, client
    await router.stop(flush_timeout=2)


async def test_an_uncovered_next_year_is_warned_of_from_the_first_of_december(
    december: tuple[Router, UnitClient], free_port: int, clock: FakeClock
) -> None:
    """§30, §33: /readyz stays ready but says so, and the metrics the alert reads show it."""
    status, body = await get(free_port, "/readyz")
    assert status == 200
    lines = body.splitlines()
    assert lines[0] == "ready"
    assert any(
        line.startswith(f"warning: exchange calendar: no holiday data for {UNCOVERED};")
        for line in lines
    ), body
    _, metrics = await get(free_port, "/metrics")
    assert "docex_calendar_warnings 1.0" in metrics
    assert f"docex_calendar_covered_until_year {UNCOVERED - 1}.0" in metrics

    clock.current = datetime(UNCOVERED - 1, 11, 30, 2, 0, tzinfo=UTC)
    status, body = await get(free_port, "/readyz")
    assert status == 200 and body.splitlines()[0] == "ready"
    assert "warning:" not in body
    _, metrics = await get(free_port, "/metrics")
    assert "docex_calendar_warnings 0.0" in metrics


async def test_a_send_dated_into_an_uncovered_year_is_refused_until_allowed(
    december: tuple[Router, UnitClient], pki: Pki, clock: FakeClock, config_file: Path
) -> None:
    """§30: sent on 31 December after 15:00, a document counts for the next workday, in a year
    whose holidays nobody has: refused with its own reason rather than dated on a holiday.
    Once the operator allows the year explicitly, the same send is dated by weekends only."""
    router, office = december
    clock.current = NEW_YEARS_EVE_LATE
    refused = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    answer = await office.request(submit(refused))
    assert isinstance(answer, wire.Status)
    assert (answer.state, answer.reason) == ("rejected", "calendar_not_covered")
    assert str(UNCOVERED) in answer.message
    assert router.ledger.document(refused.id) is None

    edit(config_file, "allow_uncovered_years = []", f"allow_uncovered_years = [{UNCOVERED}]")
    assert await router.reload()
    allowed = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    answer = await office.request(submit(allowed))
    assert isinstance(answer, wire.Status)
    first_weekday = weekday_from(date(UNCOVERED, 1, 1)).isoformat()
    assert (answer.state, answer.exchange_date) == ("accepted", first_weekday)


async def test_a_first_print_in_an_uncovered_year_is_refused_and_counts_nothing(
    units: dict[str, UnitClient], pki: Pki, router: Router, clock: FakeClock
) -> None:
    """§30, §37: the first print is the receipt, which needs an exchange date; in a year
    without holiday data it is refused, and the copies it would have counted are not."""
    last_workday = date(UNCOVERED - 1, 12, 31)
    while not router.handler.calendar.is_workday(last_workday):
        last_workday -= timedelta(days=1)
    clock.current = datetime.combine(last_workday, time(2, 0), UTC)  # 10:00 in Beijing
    envelope = sealed_envelope(
        pki.signing["gov-office"], to=["finance"], print_quota={"finance": 2}
    )
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status), answer
    assert answer.exchange_date == last_workday.isoformat(), answer
    await units["finance"].wait_for(lambda: units["finance"].mailbox.delivery(envelope.id), 10)

    clock.current = datetime(UNCOVERED, 1, 11, 2, 0, tzinfo=UTC)
    refused = await ask_to_print(units, pki, "finance", envelope.id, 1)
    assert isinstance(refused, wire.Status), refused
    assert (refused.state, refused.reason) == ("rejected", "calendar_not_covered")
    delivery = router.ledger.delivery(envelope.id, "finance")
    assert delivery is not None and (delivery.printed, delivery.received_at) == (0, None)
