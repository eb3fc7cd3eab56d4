"""Exchange dates (§30, §33): before 15:00 on a workday counts for that day, else the next."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from docex.config import Config, load_config
from docex.exchange_date import CalendarError, ExchangeCalendar, library_covers

BEIJING = ZoneInfo("Asia/Shanghai")
CALENDAR = ExchangeCalendar.build("Asia/Shanghai", time(15, 0))
# The first year chinesecalendar has no data for (2027 with 1.11, the State Council not having
# published its holidays): the tests of a year nobody covers move on as the package learns.
UNCOVERED = next(year for year in itertools.count(2027) if not library_covers(year))


def weekday_from(day: date) -> date:
    """The first Monday to Friday on or after `day`: a year counted by weekends only."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 11, 26, 14, 59, 59), date(2026, 11, 26)),  # Thursday, before the cutoff
        (datetime(2026, 11, 26, 15, 0, 0), date(2026, 11, 27)),  # at the cutoff: next workday
        (datetime(2026, 11, 27, 16, 0), date(2026, 11, 30)),  # Friday afternoon: Monday
        (datetime(2026, 11, 28, 9, 0), date(2026, 11, 30)),  # Saturday: Monday
        (datetime(2026, 9, 30, 15, 30), date(2026, 10, 8)),  # last day before National Day
        (datetime(2026, 10, 3, 10, 0), date(2026, 10, 8)),  # inside the holiday
        (datetime(2026, 10, 10, 10, 0), date(2026, 10, 10)),  # make-up Saturday is a workday
        (datetime(2026, 10, 9, 16, 0), date(2026, 10, 10)),  # Friday late: make-up Saturday
        (datetime(2026, 2, 13, 15, 0), date(2026, 2, 14)),  # before Spring Festival: make-up
        (datetime(2025, 12, 31, 16, 0), date(2026, 1, 4)),  # New Year's Eve: make-up Sunday
    ],
)
def test_exchange_date(local: datetime, expected: date) -> None:
    """§30, §33"""
    assert CALENDAR.exchange_date(local.replace(tzinfo=BEIJING)) == expected


def test_the_cutoff_is_judged_in_the_exchange_time_zone() -> None:
    """§30: 06:59 UTC is 14:59 in Beijing: still the same day there."""
    utc = datetime(2026, 11, 26, 6, 59, tzinfo=ZoneInfo("UTC"))
    assert CALENDAR.exchange_date(utc) == date(2026, 11, 26)
    assert CALENDAR.stamp(utc) == "2026-11-26T14:59:00.000+08:00"


def test_configured_days_override_the_national_calendar() -> None:
    local = ExchangeCalendar.build(
        "Asia/Shanghai", time(15, 0), holidays=[date(2026, 11, 27)], workdays=[date(2026, 11, 28)]
    )
    thursday_late = datetime(2026, 11, 26, 16, 0, tzinfo=BEIJING)
    assert local.exchange_date(thursday_late) == date(2026, 11, 28)


def test_a_year_without_holiday_data_is_a_clear_error() -> None:
    """§30: no exchange date rather than a wrong one on a holiday nobody listed."""
    with pytest.raises(CalendarError, match=f"no holiday data for {UNCOVERED}"):
        CALENDAR.exchange_date(datetime(UNCOVERED, 3, 1, 10, 0, tzinfo=BEIJING))


def test_a_send_after_the_cutoff_on_new_years_eve_needs_the_next_year() -> None:
    """§30: 31 December after 15:00 counts for the next workday, which is in the next year."""
    with pytest.raises(CalendarError, match=str(UNCOVERED)):
        CALENDAR.exchange_date(datetime(UNCOVERED - 1, 12, 31, 16, 0, tzinfo=BEIJING))


def test_a_configured_year_uses_the_listed_days() -> None:
    """§30: a year's holidays and make-up workdays listed in the config stand for the
    package's."""
    next_year = ExchangeCalendar.build(
        "Asia/Shanghai",
        time(15, 0),
        holidays=[date(2027, 1, 1), date(2027, 1, 4)],
        workdays=[date(2027, 1, 9)],
        configured_years=[2027],
    )
    new_years_eve = datetime(2026, 12, 31, 16, 0, tzinfo=BEIJING)
    assert next_year.exchange_date(new_years_eve) == date(2027, 1, 5)
    friday_late = datetime(2027, 1, 8, 16, 0, tzinfo=BEIJING)
    assert next_year.exchange_date(friday_late) == date(2027, 1, 9)
    assert next_year.covers(2027)


def test_an_allowed_uncovered_year_counts_weekends_only() -> None:
    """§30: only when the operator says so does a year without data count weekends only."""
    allowed = ExchangeCalendar.build("Asia/Shanghai", time(15, 0), uncovered_allowed=[UNCOVERED])
    new_years_eve = datetime(UNCOVERED - 1, 12, 31, 16, 0, tzinfo=BEIJING)
    assert allowed.exchange_date(new_years_eve) == weekday_from(date(UNCOVERED, 1, 1))
    assert allowed.covered_until(UNCOVERED - 1) == UNCOVERED - 1


def _config(tmp_path: Path, exchange: str = "") -> Config:
    path = tmp_path / "router.toml"
    path.write_text(
        '[router]\nseal_carrier = "x"\nseal_password_file = "y"\n[seals]\nca_certificate = "c"\n'
        + exchange
    )
    return load_config(path)


def test_the_next_uncovered_year_is_warned_of_from_the_first_of_december(
    tmp_path: Path,
) -> None:
    """§30: a month's warning to configure next year's holidays before dates are refused."""
    config = _config(tmp_path)
    assert config.calendar_warnings(date(UNCOVERED - 1, 11, 30)) == []
    warnings = config.calendar_warnings(date(UNCOVERED - 1, 12, 1))
    assert [w.split(";")[0] for w in warnings] == [
        f"exchange calendar: no holiday data for {UNCOVERED}"
    ]
    assert "refuses" in warnings[0]
    assert len(config.calendar_warnings(date(UNCOVERED, 3, 1))) == 1


def test_the_router_refuses_dates_in_an_uncovered_year_unless_allowed(tmp_path: Path) -> None:
    """§30: the config's calendar is strict; allow_uncovered_years is the explicit way out."""
    new_years_day = datetime(UNCOVERED, 1, 1, 10, 0, tzinfo=BEIJING)
    december = date(UNCOVERED - 1, 12, 1)
    with pytest.raises(CalendarError):
        _config(tmp_path).calendar().exchange_date(new_years_day)
    allowed = _config(tmp_path, f"[exchange]\nallow_uncovered_years = [{UNCOVERED}]\n")
    assert allowed.calendar().exchange_date(new_years_day) == weekday_from(new_years_day.date())
    assert "weekends only, as allowed" in allowed.calendar_warnings(december)[0]
    configured = _config(
        tmp_path,
        f"[exchange]\nholidays = [{UNCOVERED}-01-01]\nconfigured_years = [{UNCOVERED}]\n",
    )
    assert configured.calendar_warnings(december) == []
    assert configured.calendar().exchange_date(new_years_day) == weekday_from(date(UNCOVERED, 1, 2))
