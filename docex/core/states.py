"""The states of one delivery (document × recipient) and the one table of moves between them.

The ledger writes a state only where this table allows it to come from, so a command that
read a delivery and a router that changed it meanwhile cannot both win. Receipt time is a
column, not a state: set once by the first print, download or read (§37) and kept through any
later resend, so a delivery queued again after a resend request may already be received.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class DeliveryState(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    RECEIVED = "received"
    RESEND_REQUESTED = "resend_requested"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    PAPER = "paper"
    FORWARDED = "forwarded"
    RECIPIENT_REVOKED = "recipient_revoked"


_S = DeliveryState

# From each state, the states a delivery may move to. `queued` is where every delivery starts.
#   delivered, received: the broker confirmed it reached the recipient's queue; a queued
#     delivery that was received before a resend becomes received again (§37)
#   received: its first print, download or read (§35–§37), even before the broker confirmed
#   resend_requested: printing or reading failed (§38); the sender resends it: queued again
#   returned: the recipient found it wrong (§34); the sender may resend it
#   withdrawn (撤回) by its sender; paper: a link fault outlasted the fallback time (§47);
#   forwarded to a merged unit's successor, recipient_revoked: the unit left (§9)
TRANSITIONS: Mapping[DeliveryState, frozenset[DeliveryState]] = {
    _S.QUEUED: frozenset(
        {
            _S.DELIVERED,
            _S.RECEIVED,
            _S.RETURNED,
            _S.WITHDRAWN,
            _S.PAPER,
            _S.FORWARDED,
            _S.RECIPIENT_REVOKED,
        }
    ),
    _S.DELIVERED: frozenset(
        {
            _S.RECEIVED,
            _S.RESEND_REQUESTED,
            _S.RETURNED,
            _S.WITHDRAWN,
            _S.PAPER,
            _S.FORWARDED,
            _S.RECIPIENT_REVOKED,
        }
    ),
    _S.RESEND_REQUESTED: frozenset(
        {
            _S.QUEUED,
            _S.RECEIVED,
            _S.RETURNED,
            _S.WITHDRAWN,
            _S.PAPER,
            _S.FORWARDED,
            _S.RECIPIENT_REVOKED,
        }
    ),
    _S.RECEIVED: frozenset({_S.RESEND_REQUESTED}),
    _S.RETURNED: frozenset({_S.QUEUED}),
    _S.WITHDRAWN: frozenset(),
    _S.PAPER: frozenset(),
    _S.FORWARDED: frozenset(),
    _S.RECIPIENT_REVOKED: frozenset(),
}


def sources(to: DeliveryState) -> frozenset[DeliveryState]:
    """The states the table allows a delivery to move to `to` from."""
    return frozenset(state for state, targets in TRANSITIONS.items() if to in targets)


# Not received yet, unless a receipt time says otherwise: the receipt of §37 is one of them.
BEFORE_RECEIPT = sources(_S.RECEIVED)
# Where the sender's resend (§38) can take a delivery from.
RESENDABLE = sources(_S.QUEUED)
# The recipient holds the document: it may read, print and ask for copies of it.
TAKEN_IN = BEFORE_RECEIPT | {_S.RECEIVED}
# The document was taken from the recipient, or never reached it: its receipt is no longer
# expected. Only a delivery without a receipt time may move here (§34, §47, 撤回).
TAKEN_AWAY = frozenset(DeliveryState) - TAKEN_IN
