"""When work updates are due (§41): the annual filing by the end of February, the monthly one
by the 10th, both configurable in [information].

A period names one filing: "2026" is the annual filing made in 2026 (2025's summary, 2026's
plan); "2026-03" is March's monthly filing (February's results, March's plan). Due dates are
calendar dates and do not move off holidays (see InformationSettings).
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from docex import wire
from docex.config import InformationSettings

# ASCII digits only (`\d` takes any script's), a year from 1000 (Python's dates start at 1).
_ANNUAL = re.compile(r"([1-9][0-9]{3})")
_MONTHLY = re.compile(r"([1-9][0-9]{3})-(0[1-9]|1[0-2])")


class PeriodError(ValueError):
    pass


def due_date(period: str, settings: InformationSettings) -> date:
    """The last day on which the filing for `period` counts as on time."""
    if match := _ANNUAL.fullmatch(period):
        year, month = int(match.group(1)), settings.annual_due_month
        last = calendar.monthrange(year, month)[1]
        return date(year, month, settings.annual_due_day or last)
    if match := _MONTHLY.fullmatch(period):
        return date(int(match.group(1)), int(match.group(2)), settings.monthly_due_day)
    raise PeriodError(f"{period!r} is neither a year (2026) nor a month (2026-03)")


def periods_around(today: date) -> list[str]:
    """The filings the watch looks at: this year's and last year's, this month's and last
    month's, so a lateness that fell while the router was down is still seen."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return [
        str(today.year - 1),
        str(today.year),
        f"{year}-{month:02d}",
        f"{today.year}-{today.month:02d}",
    ]


def filed_in_full(filed: dict[str, str], by: date | None = None) -> bool:
    """Whether both parts were filed (`filed`: part -> local stamp), by the end of `by` if
    given. One part alone is not a filing: §41 asks for both."""
    on_time = {
        part for part, at in filed.items() if by is None or date.fromisoformat(at[:10]) <= by
    }
    return all(part in on_time for part in wire.UPDATE_PARTS)
