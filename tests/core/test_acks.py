"""Which intake deliveries one `multiple` ack settles (docex/router/acks.py)."""

from __future__ import annotations

from docex.router.acks import Unsettled


def unsettled(*tags: int) -> Unsettled:
    state = Unsettled()
    for tag in tags:
        state.add(tag)
    return state


def test_a_whole_batch_is_acked_in_one_frame() -> None:
    state = unsettled(1, 2, 3, 4)
    assert state.plan({1, 2, 3, 4}) == (4, [])
    assert state.tags == []


def test_a_command_still_waiting_is_never_acked_with_the_others() -> None:
    """Tag 2 waits in the intake (another unit's turn): 3 and 4 are acked alone, now, so the
    sender's prefetch does not fill up with acks held back."""
    state = unsettled(1, 2, 3, 4)
    assert state.plan({1, 3, 4}) == (1, [3, 4])
    # Once 2 is committed, one frame settles it; 3 and 4 are not acked twice.
    assert state.plan({2}) == (2, [])
    assert state.tags == [] and state.settled_alone == set()


def test_a_rejected_command_stops_the_range_until_it_is_settled() -> None:
    state = unsettled(1, 2, 3)
    state.settled(2)  # dead-lettered first
    assert state.plan({1, 3}) == (3, [])


def test_an_unrejected_dead_letter_is_not_swept_into_an_ack() -> None:
    state = unsettled(1, 2, 3)
    assert state.plan({1, 3}) == (1, [3])
