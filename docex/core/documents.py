"""What the exchange decides about a sent document from the deliveries alone (§34–§38): whether
an action may be taken on a delivery in its state, how many copies a print request gets, and
whom a withdrawal (撤回) reaches. The router reads the ledger, asks here, and writes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from docex.core.rejection import Rejection
from docex.core.states import BEFORE_RECEIPT, DeliveryState

# A refusal names these states in its code, so a unit's system can say why without parsing.
_NAMED_IN_CODE = (DeliveryState.WITHDRAWN, DeliveryState.RETURNED, DeliveryState.PAPER)


class DeliveryFacts(Protocol):
    """What these decisions read of a delivery (the ledger's `Delivery` has it)."""

    @property
    def doc_id(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def received_at(self) -> str | None: ...


def require_state(delivery: DeliveryFacts, allowed: Collection[str], action: str) -> None:
    """Raise the rejection `action` gets unless the delivery is in one of the `allowed` states."""
    if delivery.state not in allowed:
        raise Rejection(
            f"document_{delivery.state}" if delivery.state in _NAMED_IN_CODE else "wrong_state",
            f"cannot {action} document {delivery.doc_id} for {delivery.recipient}:"
            f" it is {delivery.state}",
        )


def require_unreceived(delivery: DeliveryFacts, action: str) -> None:
    """Some actions come only before receipt (§34): a receipt time, once set, stays through a
    resend, so it refuses them whatever the state."""
    if delivery.received_at is not None:
        raise Rejection(
            "already_received",
            f"document {delivery.doc_id} was received at {delivery.received_at};"
            f" too late to {action} it",
        )
    require_state(delivery, BEFORE_RECEIPT, action)


def changed_meanwhile(delivery: DeliveryFacts, action: str) -> Rejection:
    """A guarded write found the delivery no longer as it was read: another router changed it
    in between, and the unit may ask again."""
    return Rejection(
        "wrong_state",
        f"cannot {action} document {delivery.doc_id} for {delivery.recipient}:"
        " it changed meanwhile",
    )


@dataclass(frozen=True)
class PrintGranted:
    first: int
    last: int
    remaining: int


@dataclass(frozen=True)
class PrintDenied:
    remaining: int


def decide_print(printed: int, quota: int, requested: int) -> PrintGranted | PrintDenied:
    """§35: copies are numbered on from those printed before, and never past the quota; a
    request for more than is left gets none, and is told how many are."""
    remaining = quota - printed
    if requested > remaining:
        return PrintDenied(remaining)
    return PrintGranted(printed + 1, printed + requested, remaining - requested)


@dataclass(frozen=True)
class Withdrawal:
    withdrawn: list[str]
    refused: dict[str, str]  # recipient → the state that kept it


def plan_withdrawal(
    requested: Sequence[str], deliveries: Mapping[str, DeliveryFacts]
) -> Withdrawal:
    """撤回: from each named recipient (every one, if none is named) who has not received the
    document; the others are refused with their state. A name the document was not sent to
    refuses the whole withdrawal, and so does having no one left to withdraw from."""
    named = list(dict.fromkeys(requested)) or list(deliveries)
    strangers = [name for name in named if name not in deliveries]
    if strangers:
        raise Rejection(
            "not_a_recipient", f"not sent to {len(strangers)} of them: {', '.join(strangers)}"
        )
    withdrawn, refused = [], {}
    for recipient in named:
        delivery = deliveries[recipient]
        if delivery.received_at is None and delivery.state in BEFORE_RECEIPT:
            withdrawn.append(recipient)
        else:
            refused[recipient] = delivery.state
    if not withdrawn:
        raise Rejection(
            "already_received",
            "nothing withdrawn: "
            + ", ".join(f"{who} is {state}" for who, state in refused.items()),
        )
    return Withdrawal(withdrawn, refused)
