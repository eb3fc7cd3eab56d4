"""How §33 counts the time a document waits for its recipient: workdays only."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from docex.core.receipts import workday_hours
from docex.exchange_date import ExchangeCalendar

BEIJING = ZoneInfo("Asia/Shanghai")
CALENDAR = ExchangeCalendar.build("Asia/Shanghai", time(15, 0))


def hours(start: datetime, end: datetime) -> float:
    return workday_hours(
        start.replace(tzinfo=BEIJING), end.replace(tzinfo=BEIJING), CALENDAR.is_workday, BEIJING
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2026, 11, 26, 10), datetime(2026, 11, 27, 10), 24),  # Thursday to Friday
        (datetime(2026, 11, 27, 16), datetime(2026, 11, 30, 16), 24),  # over a weekend
        (datetime(2026, 11, 28, 10), datetime(2026, 11, 29, 22), 0),  # within a weekend
        (datetime(2026, 9, 30, 12), datetime(2026, 10, 8, 12), 24),  # over National Day
        (datetime(2026, 10, 9, 12), datetime(2026, 10, 10, 12), 24),  # to a make-up Saturday
        (datetime(2026, 11, 27, 10), datetime(2026, 11, 26, 10), 0),  # end before start
    ],
)
def test_only_hours_on_workdays_count(start: datetime, end: datetime, expected: float) -> None:
    """§33: every day but holidays (节假日除外)."""
    assert hours(start, end) == expected
