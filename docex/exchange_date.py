"""Exchange dates: what day a send or a receipt counts for (§30, §33).

A document sent or received before the cutoff (15:00) on a workday counts for that day;
otherwise it counts for the next workday. Weekends are rest days unless listed as make-up
workdays; public holidays come from configuration.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_SEARCH_LIMIT_DAYS = 366


class CalendarError(Exception):
    pass


@dataclass(frozen=True)
class ExchangeCalendar:
    timezone: ZoneInfo
    cutoff: time
    holidays: frozenset[date]
    workdays: frozenset[date]

    @classmethod
    def build(
        cls,
        timezone: str,
        cutoff: time,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
    ) -> "ExchangeCalendar":
        return cls(ZoneInfo(timezone), cutoff, frozenset(holidays), frozenset(workdays))

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def exchange_date(self, at: datetime) -> date:
        local = at.astimezone(self.timezone)
        day = local.date()
        if self.is_workday(day) and local.time() < self.cutoff:
            return day
        for _ in range(_SEARCH_LIMIT_DAYS):
            day += timedelta(days=1)
            if self.is_workday(day):
                return day
        raise CalendarError(f"no workday within a year after {local.date()}: check the holidays")

    def stamp(self, at: datetime) -> str:
        """The timestamp as people at the exchange read it: local time with its offset."""
        return at.astimezone(self.timezone).isoformat(timespec="milliseconds")
