"""How long a delivered document has waited for its recipient, as §33 counts time.

§33 asks units to receive on time, every day but holidays (节假日除外): the time a document
waits over a weekend or a holiday does not count against its recipient. So the wait is the
hours between delivery and now that fall on workdays, whole days of them, in the exchange's
time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def workday_hours(
    start: datetime, end: datetime, is_workday: Callable[[date], bool], timezone: ZoneInfo
) -> float:
    """Hours between `start` and `end` that fall on workdays; 0 when `end` is not later."""
    start, end = start.astimezone(timezone), end.astimezone(timezone)
    total = timedelta()
    day = start.date()
    while day <= end.date():
        if is_workday(day):
            midnight = datetime.combine(day, time(0), timezone)
            overlap = min(end, midnight + timedelta(days=1)) - max(start, midnight)
            total += max(overlap, timedelta())
        day += timedelta(days=1)
    return total.total_seconds() / 3600
