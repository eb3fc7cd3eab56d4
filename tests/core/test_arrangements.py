"""Out-of-hours arrangements (§30, §33 second sentences): what an agreed late send or receipt
dates, and what can be agreed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

import pytest

from docex.core.arrangements import (
    ACCEPTED,
    PROPOSED,
    Arrangement,
    applicable,
    check_proposal,
    check_still_ahead,
    dated,
    exchange_date,
    parse_until,
    send_date,
)
from docex.core.rejection import Rejection
from tests.core.test_exchange_date import BEIJING, CALENDAR

THURSDAY = date(2026, 11, 26)
FRIDAY = date(2026, 11, 27)
LATE = datetime(2026, 11, 26, 16, 0, tzinfo=BEIJING)  # Thursday 16:00
AGREED = Arrangement(
    id="a1",
    kind="send",
    sender="gov-office",
    recipient="finance",
    doc_no="",
    day=THURSDAY,
    until=time(18, 0),
    state=ACCEPTED,
)


def test_an_accepted_arrangement_dates_a_late_send_that_day() -> None:
    """§30: a recipient asked for that day's document outside hours, the sender agreed: sent
    at 16:00, it counts for Thursday, not Friday."""
    assert exchange_date(LATE, CALENDAR, None) == FRIDAY
    assert exchange_date(
        LATE, CALENDAR, applicable([AGREED], "国办发〔2026〕1号", LATE, CALENDAR)
    ) == (THURSDAY)
    assert dated(LATE, CALENDAR, [AGREED], "国办发〔2026〕1号") == (THURSDAY, "a1")


def test_a_proposal_nobody_accepted_dates_nothing() -> None:
    """§30, §33: agreed means both sides; a proposal alone changes no date."""
    proposed = replace(AGREED, state=PROPOSED)
    assert applicable([proposed], "", LATE, CALENDAR) is None
    assert dated(LATE, CALENDAR, [proposed], "") == (FRIDAY, "")


def test_after_the_agreed_time_the_next_workday_counts() -> None:
    """§30, §33: the time agreed (明确时间) is the end of it: at 18:00 it is over."""
    at_end = datetime(2026, 11, 26, 18, 0, tzinfo=BEIJING)
    just_before = datetime(2026, 11, 26, 17, 59, 59, tzinfo=BEIJING)
    assert dated(at_end, CALENDAR, [AGREED], "") == (FRIDAY, "")
    assert dated(just_before, CALENDAR, [AGREED], "") == (THURSDAY, "a1")


def test_an_arrangement_holds_only_on_its_day() -> None:
    """§30: that day's document (当日电子公文): the next day late is dated as usual."""
    friday_late = datetime(2026, 11, 27, 16, 0, tzinfo=BEIJING)
    assert dated(friday_late, CALENDAR, [AGREED], "") == (date(2026, 11, 30), "")


def test_an_arrangement_for_one_document_number_covers_only_it() -> None:
    """§30: agreed for one 文号, it dates that document, not another sent as late."""
    one = replace(AGREED, doc_no="国办发〔2026〕1号")
    assert dated(LATE, CALENDAR, [one], "国办发〔2026〕1号") == (THURSDAY, "a1")
    assert dated(LATE, CALENDAR, [one], "国办发〔2026〕2号") == (FRIDAY, "")
    # The one naming the 文号 is the one recorded, before one for any document.
    anything = replace(AGREED, id="a0")
    assert dated(LATE, CALENDAR, [anything, one], "国办发〔2026〕1号") == (THURSDAY, "a1")


def test_within_hours_no_arrangement_is_recorded() -> None:
    """§30: before 15:00 the document counts for the day anyway; nothing was needed."""
    morning = datetime(2026, 11, 26, 10, 0, tzinfo=BEIJING)
    assert dated(morning, CALENDAR, [AGREED], "") == (THURSDAY, "")
    assert send_date(morning, CALENDAR, [AGREED], "", ["finance"]).arrangements == {}


def test_a_document_to_several_counts_for_the_day_only_when_all_agreed() -> None:
    """§30: one exchange date per document; a recipient who agreed to nothing does not get
    one dated a day it did not agree to."""
    both = send_date(LATE, CALENDAR, [AGREED], "", ["finance"])
    assert (both.day, both.arrangements) == (THURSDAY, {"finance": "a1"})
    partly = send_date(LATE, CALENDAR, [AGREED], "", ["finance", "education"])
    assert (partly.day, partly.arrangements) == (FRIDAY, {})
    education = replace(AGREED, id="a2", recipient="education")
    full = send_date(LATE, CALENDAR, [AGREED, education], "", ["finance", "education"])
    assert (full.day, full.arrangements) == (THURSDAY, {"finance": "a1", "education": "a2"})
    # A late-receipt arrangement (§33) dates no send.
    receipt = replace(AGREED, kind="receive")
    assert send_date(LATE, CALENDAR, [receipt], "", ["finance"]).day == FRIDAY


def test_the_proposer_is_the_side_that_asks() -> None:
    """§30: the recipient asks for a late send; §33: the sender asks for a late receipt."""
    assert (AGREED.proposer, AGREED.counterpart) == ("finance", "gov-office")
    receipt = replace(AGREED, kind="receive")
    assert (receipt.proposer, receipt.counterpart) == ("gov-office", "finance")


@pytest.mark.parametrize(
    ("day", "until", "code"),
    [
        (date(2026, 11, 28), time(18, 0), "arrangement_not_workday"),  # a Saturday
        (date(2026, 10, 1), time(18, 0), "arrangement_not_workday"),  # National Day
        (THURSDAY, time(15, 0), "arrangement_within_hours"),
        (THURSDAY, time(11, 0), "arrangement_within_hours"),
        (THURSDAY, time(15, 30), "arrangement_past"),  # it is 16:00 already
        (date(2026, 11, 25), time(18, 0), "arrangement_past"),
    ],
)
def test_what_cannot_be_agreed(day: date, until: time, code: str) -> None:
    """§30, §33: a later time on a workday, agreed in advance (事先)."""
    with pytest.raises(Rejection) as refused:
        check_proposal(day, until, LATE, CALENDAR)
    assert refused.value.code == code


def test_what_can_be_agreed() -> None:
    """§30, §33: later the same workday, or a workday ahead."""
    check_proposal(THURSDAY, time(18, 0), LATE, CALENDAR)
    check_proposal(FRIDAY, time(17, 30), LATE, CALENDAR)
    check_still_ahead(THURSDAY, time(16, 1), LATE, CALENDAR)


@pytest.mark.parametrize("text", ["18:00", "18:00:00"])
def test_until_is_a_time_of_day(text: str) -> None:
    assert parse_until(text) == time(18, 0)


@pytest.mark.parametrize("text", ["24:00", "6pm", "", "18:00+08:00x"])
def test_until_that_is_no_time_is_refused(text: str) -> None:
    with pytest.raises(Rejection) as refused:
        parse_until(text)
    assert refused.value.code == "arrangement_invalid"
