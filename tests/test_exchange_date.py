"""Exchange dates (§30, §33): before 15:00 on a workday counts for that day, else the next."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from docex.exchange_date import ExchangeCalendar

BEIJING = ZoneInfo("Asia/Shanghai")
CALENDAR = ExchangeCalendar.build(
    "Asia/Shanghai",
    time(15, 0),
    holidays=[date(2026, 10, day) for day in (1, 2, 5, 6, 7)] + [date(2027, 1, 1)],
    workdays=[date(2026, 10, 10)],
)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 11, 26, 14, 59, 59), date(2026, 11, 26)),  # Thursday, before the cutoff
        (datetime(2026, 11, 26, 15, 0, 0), date(2026, 11, 27)),  # at the cutoff: next workday
        (datetime(2026, 11, 27, 16, 0), date(2026, 11, 30)),  # Friday afternoon: Monday
        (datetime(2026, 11, 28, 9, 0), date(2026, 11, 30)),  # Saturday: Monday
        (datetime(2026, 9, 30, 15, 30), date(2026, 10, 8)),  # last day before the holiday
        (datetime(2026, 10, 3, 10, 0), date(2026, 10, 8)),  # inside the holiday
        (datetime(2026, 10, 10, 10, 0), date(2026, 10, 10)),  # make-up Saturday is a workday
        (datetime(2026, 10, 9, 16, 0), date(2026, 10, 10)),  # Friday late: make-up Saturday
        (datetime(2026, 12, 31, 16, 0), date(2027, 1, 4)),  # New Year's Eve afternoon
    ],
)
def test_exchange_date(local: datetime, expected: date) -> None:
    """§30, §33"""
    assert CALENDAR.exchange_date(local.replace(tzinfo=BEIJING)) == expected


def test_the_cutoff_is_judged_in_the_exchange_time_zone() -> None:
    """06:59 UTC is 14:59 in Beijing: still the same day there."""
    utc = datetime(2026, 11, 26, 6, 59, tzinfo=ZoneInfo("UTC"))
    assert CALENDAR.exchange_date(utc) == date(2026, 11, 26)
    assert CALENDAR.stamp(utc) == "2026-11-26T14:59:00.000+08:00"
