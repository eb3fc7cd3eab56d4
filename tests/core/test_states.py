"""The delivery state machine: one table, checked pair by pair against the machine the
lifecycle draws (docex/router/lifecycle.py), written out here independently of the table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from docex.core.states import (
    BEFORE_RECEIPT,
    RESENDABLE,
    TAKEN_AWAY,
    TAKEN_IN,
    TRANSITIONS,
    DeliveryState,
    sources,
)

_UNRECEIVED = ("queued", "delivered", "resend_requested")
_AWAY = ("returned", "withdrawn", "paper", "forwarded", "recipient_revoked")
MACHINE = {
    # queued → delivered → received; a receipt may come before the broker's confirm (§37)
    ("queued", "delivered"),
    ("queued", "received"),
    ("delivered", "received"),
    ("resend_requested", "received"),
    # printing or reading failed (§38); the sender resends a returned one too (§34)
    ("delivered", "resend_requested"),
    ("received", "resend_requested"),
    ("resend_requested", "queued"),
    ("returned", "queued"),
    # returned (§34), withdrawn, paper (§47), forwarded or revoked (§9): only before receipt
    *((before, away) for before in _UNRECEIVED for away in _AWAY),
}


@settings(max_examples=1000)
@given(st.sampled_from(DeliveryState), st.sampled_from(DeliveryState))
def test_a_move_is_allowed_exactly_when_the_machine_has_it(
    current: DeliveryState, to: DeliveryState
) -> None:
    """§34, §37, §38, §47: every (from, to) pair, allowed or refused as the lifecycle draws it."""
    allowed = (str(current), str(to)) in MACHINE
    assert (to in TRANSITIONS[current]) is allowed
    assert (current in sources(to)) is allowed


def test_the_table_has_a_row_for_every_state() -> None:
    assert set(TRANSITIONS) == set(DeliveryState)


def test_the_named_groups() -> None:
    """§37: the receipt comes from a state before receipt; §38: a resend from a resend request
    or a return; what is taken away is what no receipt is expected for any more."""
    assert BEFORE_RECEIPT == set(_UNRECEIVED)
    assert RESENDABLE == {"returned", "resend_requested"}
    assert TAKEN_IN == {*_UNRECEIVED, "received"}
    assert TAKEN_AWAY == set(_AWAY)
