"""Exchange dates: what day a send or a receipt counts for (§30, §33).

A document sent or received before the cutoff (15:00) on a workday counts for that day;
otherwise it counts for the next workday. Workdays come from the maintained calendar of
China's public holidays and make-up workdays (调休) in `chinesecalendar`; configuration can
override single days, and declare whole years the library does not know yet.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

_SEARCH_LIMIT_DAYS = 366


class CalendarError(Exception):
    pass


def library_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class ExchangeCalendar:
    timezone: ZoneInfo
    cutoff: time
    holidays: frozenset[date]
    workdays: frozenset[date]
    configured_years: frozenset[int]
    # Not strict: a year nobody has data for counts weekends only, rather than stopping the
    # exchange on New Year's Day; the router warns about it ahead of time.
    strict: bool = True

    @classmethod
    def build(
        cls,
        timezone: str,
        cutoff: time,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        configured_years: Iterable[int] = (),
        *,
        strict: bool = True,
    ) -> "ExchangeCalendar":
        return cls(
            ZoneInfo(timezone),
            cutoff,
            frozenset(holidays),
            frozenset(workdays),
            frozenset(configured_years),
            strict,
        )

    def covers(self, year: int) -> bool:
        return year in self.configured_years or library_covers(year)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if day.year not in self.configured_years:
            national = _national_workday(day)
            if national is not None:
                return national
            if self.strict:
                raise CalendarError(
                    f"no holiday data for {day.year}: list that year's holidays and make-up"
                    f" workdays under [exchange] and add {day.year} to configured_years"
                )
        return day.weekday() < 5

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


@functools.lru_cache(maxsize=1024)
def _national_workday(day: date) -> bool | None:
    """None for a year the library has no data for. Cached: its data never changes while we
    run, and the router asks about the same few days for every document it stamps."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def seconds_between(start: str, end: str) -> float:
    """The time between two stamps made by `ExchangeCalendar.stamp`."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
