"""Work updates (§41): due dates, reminders to those who have not filed, and lateness."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from docex import wire
from docex.config import Config, InformationSettings
from docex.router.service import Router
from docex.router.work_updates import PeriodError, due_date, periods_around
from docex.unit.client import UnitClient
from tests.conftest import FakeClock
from tests.edge.test_information import accepted, notices

V = wire.VERSION


@pytest.mark.parametrize(
    ("year", "end_of_february"),
    [(2026, date(2026, 2, 28)), (2028, date(2028, 2, 29)), (2100, date(2100, 2, 28))],
)
def test_the_annual_filing_is_due_at_the_end_of_february(year: int, end_of_february: date) -> None:
    """§41: "二月底前": the 28th, or the 29th in a leap year (2100 is not one)."""
    assert due_date(str(year), InformationSettings()) == end_of_february


def test_due_dates_are_configurable() -> None:
    """§41 allows "根据工作实际情况安排时间": both dates come from [information]."""
    settings = InformationSettings(annual_due_month=3, annual_due_day=15, monthly_due_day=5)
    assert due_date("2026", settings) == date(2026, 3, 15)
    assert due_date("2026-07", settings) == date(2026, 7, 5)


def test_the_10th_stays_the_due_date_when_it_is_a_holiday(config: Config) -> None:
    """§41: "每月十日前" is a calendar date; filing is electronic, so a 10th that falls on a
    holiday or weekend (10 May 2026 is a Sunday) does not move to the next workday."""
    assert not config.calendar().is_workday(date(2026, 5, 10))
    assert due_date("2026-05", config.information) == date(2026, 5, 10)


@pytest.mark.parametrize(
    "period",
    [
        "March",
        "2026-13",
        "26",
        "2026-3",
        "2026-00",
        "0000",
        "0000-01",
        "２０２６",
        "2026\n",
        "../..",
    ],
)
def test_a_period_is_a_year_or_a_month(period: str) -> None:
    """§41: a year or a month in ASCII digits that a date can hold, and nothing after it."""
    with pytest.raises(PeriodError):
        due_date(period, InformationSettings())


def test_the_watch_looks_back_one_year_and_one_month() -> None:
    assert periods_around(date(2027, 1, 5)) == ["2026", "2027", "2026-12", "2027-01"]


def beijing(day: date) -> datetime:
    """10:00 in Beijing on that day."""
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


async def test_units_that_have_not_filed_are_reminded_then_counted_late(
    router: Router, units: dict[str, UnitClient], clock: FakeClock
) -> None:
    """§41: reminded `remind_days_before` (3) days before and on the 10th; late after it. The
    General Office reads the updates and owes none; a unit that filed both parts hears nothing."""
    clock.current = beijing(date(2026, 12, 6))
    router.infowatch.check()
    clock.current = beijing(date(2026, 12, 7))
    router.infowatch.check()
    for part in ("summary", "plan"):
        update = wire.Info(v=V, kind="update", title="12月工作动态", period="2026-12", part=part)
        await accepted(units["finance"], update)

    clock.current = beijing(date(2026, 12, 10))
    router.infowatch.check()
    clock.current = beijing(date(2026, 12, 11))
    router.infowatch.check()
    router.infowatch.check()

    education = await notices(units["education"], 3)
    assert [(n.kind, n.subject, n.due) for n in education] == [
        ("reminder", "2026-12", "2026-12-10"),
        ("reminder", "2026-12", "2026-12-10"),
        ("late", "2026-12", "2026-12-10"),
    ]
    finance = await notices(units["finance"], 1)
    assert [n.kind for n in finance] == ["reminder"]
    await units["gov-office"].drain()
    assert not [
        n for n in units["gov-office"].mailbox.information() if isinstance(n, wire.InfoNotice)
    ]
    assert router.metrics.registry.get_sample_value("docex_work_updates_late_total") == 1
