"""Exchange dates: what day a send or a receipt counts for (§30, §33).

A document sent or received before the cutoff (15:00) on a workday counts for that day;
otherwise it counts for the next workday. Workdays come from the maintained calendar of
China's public holidays and make-up workdays (调休) in `chinesecalendar`; configuration can
override single days, and declare whole years the library does not know yet.

A year that neither the library nor the configuration covers has no exchange dates: counting
weekends only would date documents on New Year's Day or National Day, and an exchange date
once given never moves. The operator may accept that for a year, explicitly
(`[exchange] allow_uncovered_years`), until its holidays are published and configured.
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
    # Years nobody has holiday data for that the operator accepts counting weekends only.
    uncovered_allowed: frozenset[int] = frozenset()

    @classmethod
    def build(
        cls,
        timezone: str,
        cutoff: time,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        configured_years: Iterable[int] = (),
        uncovered_allowed: Iterable[int] = (),
    ) -> "ExchangeCalendar":
        return cls(
            ZoneInfo(timezone),
            cutoff,
            frozenset(holidays),
            frozenset(workdays),
            frozenset(configured_years),
            frozenset(uncovered_allowed),
        )

    def covers(self, year: int) -> bool:
        return year in self.configured_years or library_covers(year)

    def covered_until(self, year: int) -> int:
        """The last year of the unbroken run of covered years from `year` (year - 1: none)."""
        while self.covers(year):
            year += 1
        return year - 1

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if day.year not in self.configured_years:
            national = _national_workday(day)
            if national is not None:
                return national
            if day.year not in self.uncovered_allowed:
                raise CalendarError(
                    f"no holiday data for {day.year}: the exchange cannot date this; the"
                    f" operator must list {day.year}'s holidays and make-up workdays under"
                    f" [exchange] (configured_years), or allow it (allow_uncovered_years)"
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
