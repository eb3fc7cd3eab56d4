"""The decisions about a sent document (docex/core/documents.py), on plain data: which
rejection an action gets, how many copies a print request gets, whom a withdrawal reaches."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docex.core.documents import (
    PrintDenied,
    PrintGranted,
    Withdrawal,
    decide_print,
    plan_withdrawal,
    require_state,
    require_unreceived,
)
from docex.core.rejection import Rejection
from docex.core.states import BEFORE_RECEIPT, TAKEN_IN

RECEIVED_AT = "2026-11-26T10:00:00+08:00"


@dataclass(frozen=True)
class Facts:
    recipient: str
    state: str
    received_at: str | None = None
    doc_id: str = "doc-1"


def test_copies_are_numbered_on_from_those_printed_before() -> None:
    """§35: numbered copies within the quota."""
    assert decide_print(printed=0, quota=5, requested=2) == PrintGranted(1, 2, remaining=3)
    assert decide_print(printed=2, quota=5, requested=2) == PrintGranted(3, 4, remaining=1)


def test_the_last_copy_can_be_printed() -> None:
    """§35: the quota is reached, not stopped one short."""
    assert decide_print(printed=4, quota=5, requested=1) == PrintGranted(5, 5, remaining=0)
    assert decide_print(printed=0, quota=5, requested=5) == PrintGranted(1, 5, remaining=0)


def test_a_request_over_the_quota_gets_nothing_and_is_told_what_is_left() -> None:
    """§35: no copy past the quota, and none of a request that would pass it."""
    assert decide_print(printed=4, quota=5, requested=2) == PrintDenied(remaining=1)
    assert decide_print(printed=5, quota=5, requested=1) == PrintDenied(remaining=0)
    assert decide_print(printed=0, quota=0, requested=1) == PrintDenied(remaining=0)


@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 1000))
def test_grants_never_pass_the_quota_nor_leave_copies_unnumbered(
    printed: int, extra: int, requested: int
) -> None:
    """§35: a grant is exactly the copies asked for, next in line, within the quota."""
    quota = printed + extra
    decision = decide_print(printed, quota, requested)
    if requested <= extra:
        assert decision == PrintGranted(printed + 1, printed + requested, extra - requested)
    else:
        assert decision == PrintDenied(extra)


@pytest.mark.parametrize("state", ["withdrawn", "returned", "paper"])
def test_an_action_on_a_delivery_taken_away_names_why_in_its_code(state: str) -> None:
    with pytest.raises(Rejection) as refused:
        require_state(Facts("finance", state), TAKEN_IN, "print")
    assert refused.value.code == f"document_{state}"
    assert refused.value.message == f"cannot print document doc-1 for finance: it is {state}"


@pytest.mark.parametrize("state", ["forwarded", "recipient_revoked", "received"])
def test_an_action_in_any_other_state_it_may_not_be_taken_from_is_wrong_state(
    state: str,
) -> None:
    with pytest.raises(Rejection) as refused:
        require_state(Facts("finance", state), BEFORE_RECEIPT, "return")
    assert refused.value.code == "wrong_state"
    assert refused.value.message == f"cannot return document doc-1 for finance: it is {state}"


@pytest.mark.parametrize("state", sorted(TAKEN_IN))
def test_an_action_in_an_allowed_state_passes(state: str) -> None:
    require_state(Facts("finance", state), TAKEN_IN, "print")


def test_after_receipt_it_is_too_late_whatever_the_state() -> None:
    """§34, §37: a document received and then asked for again is still received."""
    delivery = Facts("finance", "resend_requested", received_at=RECEIVED_AT)
    with pytest.raises(Rejection) as refused:
        require_unreceived(delivery, "return")
    assert refused.value.code == "already_received"
    assert refused.value.message == (
        f"document doc-1 was received at {RECEIVED_AT}; too late to return it"
    )


def test_before_receipt_the_state_still_decides() -> None:
    """§34: a withdrawn document cannot be returned; a delivered one can."""
    with pytest.raises(Rejection) as refused:
        require_unreceived(Facts("finance", "withdrawn"), "return")
    assert refused.value.code == "document_withdrawn"
    require_unreceived(Facts("finance", "delivered"), "return")


def deliveries(*facts: Facts) -> dict[str, Facts]:
    return {delivery.recipient: delivery for delivery in facts}


SENT = deliveries(
    Facts("finance", "delivered"),
    Facts("education", "received", received_at=RECEIVED_AT),
    Facts("health", "resend_requested", received_at=RECEIVED_AT),
    Facts("police", "queued"),
    Facts("water", "resend_requested"),
    Facts("parks", "paper"),
)


def test_a_withdrawal_reaches_only_those_who_have_not_received_it() -> None:
    """Everyone, when no one is named: those without a receipt in a state before it."""
    assert plan_withdrawal([], SENT) == Withdrawal(
        withdrawn=["finance", "police", "water"],
        refused={"education": "received", "health": "resend_requested", "parks": "paper"},
    )


def test_a_withdrawal_from_named_recipients_takes_each_once_in_order() -> None:
    assert plan_withdrawal(["water", "education", "water", "finance"], SENT) == Withdrawal(
        withdrawn=["water", "finance"], refused={"education": "received"}
    )


def test_a_withdrawal_naming_a_stranger_is_refused_whole() -> None:
    with pytest.raises(Rejection) as refused:
        plan_withdrawal(["finance", "tax", "land"], SENT)
    assert refused.value.code == "not_a_recipient"
    assert refused.value.message == "not sent to 2 of them: tax, land"


def test_a_withdrawal_with_no_one_left_to_withdraw_from_is_refused() -> None:
    with pytest.raises(Rejection) as refused:
        plan_withdrawal(["education", "parks"], SENT)
    assert refused.value.code == "already_received"
    assert refused.value.message == "nothing withdrawn: education is received, parks is paper"
