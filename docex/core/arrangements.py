"""Out-of-hours arrangements (§30 and §33, second sentences).

A document sent or received from 15:00 counts for the next workday (docex/exchange_date.py),
unless the two units agreed beforehand that it counts for that day: a recipient may ask its
sender to send that day's document outside exchange hours (§30, kind "send"), and a sender
may ask its recipient to receive it outside them (§33, kind "receive"), with the time agreed.

An arrangement is proposed by one side and counts only once the other side has accepted it:
the rule says the asking side notifies the other "in advance" (事先通知), and the counterpart
is the one who must work late. It stretches one workday's hours until an agreed time that
day, for one 文号 or for every document between the two units that day; it never makes a
holiday an exchange day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from docex.core.rejection import Rejection
from docex.exchange_date import ExchangeCalendar

Kind = Literal["send", "receive"]
PROPOSED = "proposed"
ACCEPTED = "accepted"
DECLINED = "declined"


@dataclass(frozen=True)
class Arrangement:
    id: str
    kind: Kind
    sender: str
    recipient: str
    # "" for any document from the sender to the recipient that day.
    doc_no: str
    day: date
    until: time
    state: str = PROPOSED
    proposed_at: str = ""
    proposed_by: str = ""
    answered_at: str = ""
    answered_by: str = ""

    @property
    def proposer(self) -> str:
        """Who asks (§30: the recipient asks for a late send; §33: the sender, for a late
        receipt); the other unit is the one who accepts."""
        return self.recipient if self.kind == "send" else self.sender

    @property
    def counterpart(self) -> str:
        return self.sender if self.kind == "send" else self.recipient


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Rejection(
            "arrangement_invalid", f"day {text[:32]!r} is not a date (YYYY-MM-DD)"
        ) from None


def parse_until(text: str) -> time:
    try:
        return time.fromisoformat(text).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        raise Rejection(
            "arrangement_invalid", f"until {text[:32]!r} is not a time of day (HH:MM)"
        ) from None


def check_proposal(day: date, until: time, now: datetime, calendar: ExchangeCalendar) -> None:
    """What can be agreed: a later time on a workday, while that time is still ahead."""
    if not calendar.is_workday(day):
        raise Rejection(
            "arrangement_not_workday",
            f"{day} is not a workday: an arrangement extends a workday's exchange hours (§30, §33)",
        )
    if until <= calendar.cutoff:
        raise Rejection(
            "arrangement_within_hours",
            f"until {until:%H:%M} is within exchange hours (before {calendar.cutoff:%H:%M}):"
            " those documents count for that day anyway",
        )
    check_still_ahead(day, until, now, calendar)


def check_still_ahead(day: date, until: time, now: datetime, calendar: ExchangeCalendar) -> None:
    """Agreed in advance (事先, §30, §33): neither proposed nor accepted once its time is over."""
    if now.astimezone(calendar.timezone) >= datetime.combine(day, until, calendar.timezone):
        raise Rejection("arrangement_past", f"the agreed time, {day} {until:%H:%M}, has passed")


def applicable(
    arrangements: Iterable[Arrangement], doc_no: str, at: datetime, calendar: ExchangeCalendar
) -> Arrangement | None:
    """The accepted arrangement that covers a document with this 文号 at `at`: one naming the
    文号 before one for any document. A proposal nobody accepted covers nothing."""
    local = at.astimezone(calendar.timezone)
    covering = [
        arrangement
        for arrangement in arrangements
        if arrangement.state == ACCEPTED
        and arrangement.doc_no in ("", doc_no)
        and local.date() == arrangement.day
        and local.time() < arrangement.until
    ]
    covering.sort(key=lambda arrangement: (arrangement.doc_no == "", arrangement.id))
    return covering[0] if covering else None


def exchange_date(
    at: datetime, calendar: ExchangeCalendar, arrangement: Arrangement | None
) -> date:
    """§30, §33: the day a send or receipt at `at` counts for. Before the cutoff on a workday,
    that day; after it, that day too when an applicable arrangement (`applicable`) covers it;
    otherwise the next workday."""
    if arrangement is not None:
        return arrangement.day
    return calendar.exchange_date(at)


def dated(
    at: datetime, calendar: ExchangeCalendar, arrangements: Iterable[Arrangement], doc_no: str
) -> tuple[date, str]:
    """The exchange date of a receipt (§33) or of a send to one recipient (§30), and the
    arrangement it was dated by ("" when the ordinary rule dated it)."""
    local = at.astimezone(calendar.timezone)
    if calendar.is_workday(local.date()) and local.time() < calendar.cutoff:
        return local.date(), ""
    arrangement = applicable(arrangements, doc_no, at, calendar)
    return exchange_date(at, calendar, arrangement), arrangement.id if arrangement else ""


@dataclass(frozen=True)
class SendDate:
    day: date
    # The arrangement each recipient's delivery was sent under; empty when none applied.
    arrangements: dict[str, str]


def send_date(
    at: datetime,
    calendar: ExchangeCalendar,
    arrangements: Iterable[Arrangement],
    doc_no: str,
    recipients: list[str],
) -> SendDate:
    """§30 for a document to several recipients: it has one exchange date, so it counts for
    the day only when every recipient agreed to a late send; one who did not is not given a
    document dated a day it did not agree to."""
    local = at.astimezone(calendar.timezone)
    within_hours = calendar.is_workday(local.date()) and local.time() < calendar.cutoff
    by_recipient: dict[str, list[Arrangement]] = {}
    for arrangement in arrangements:
        if arrangement.kind == "send":
            by_recipient.setdefault(arrangement.recipient, []).append(arrangement)
    # Linear in the recipients, and nothing per recipient in hours or with nothing agreed: a
    # circular goes to thousands.
    if within_hours or not recipients or not by_recipient:
        return SendDate(calendar.exchange_date(at), {})
    found = {
        recipient: applicable(by_recipient.get(recipient, []), doc_no, at, calendar)
        for recipient in recipients
    }
    chosen = [arrangement for arrangement in found.values() if arrangement is not None]
    if len(chosen) < len(recipients):
        return SendDate(calendar.exchange_date(at), {})
    return SendDate(
        exchange_date(at, calendar, chosen[0]),
        {recipient: arrangement.id for recipient, arrangement in found.items() if arrangement},
    )
