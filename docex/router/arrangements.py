"""Out-of-hours arrangements between two units, proposed and accepted through the router
(§30, §33; the rules are docex/core/arrangements.py).

Both units hear of each step: the counterpart of a proposal, so it can accept it
(`docex unit arrange accept`), and the proposer of the answer. Only an accepted arrangement
dates a document, and the arrangement's id goes with the delivery and on what the sender is
told, so either side can show later why a late document counts for that day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from docex import persons, wire
from docex.clock import Clock
from docex.config import Config
from docex.core import arrangements
from docex.core.arrangements import ACCEPTED, DECLINED, PROPOSED, Arrangement, SendDate
from docex.core.rejection import Rejection
from docex.exchange_date import ExchangeCalendar
from docex.ids import uuid7
from docex.ledger.port import Ledger

Tell = Callable[[str, wire.RouterMessage], None]


class Arrangements:
    def __init__(
        self, ledger: Ledger, config: Config, calendar: ExchangeCalendar, clock: Clock, tell: Tell
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.calendar = calendar
        self.clock = clock
        self.tell = tell

    def propose(self, unit: str, message_id: str, person: str, command: wire.Arrange) -> None:
        counterpart = command.counterpart
        registered = self.config.units_by_id().get(counterpart)
        if counterpart == unit or registered is None or registered.status != "active":
            raise Rejection(
                "arrangement_counterpart",
                f"{counterpart!r} is not another active unit on the exchange",
            )
        day = arrangements.parse_day(command.day)
        until = arrangements.parse_until(command.until)
        now = self.clock.now()
        arrangements.check_proposal(day, until, now, self.calendar)
        sender, recipient = (counterpart, unit) if command.kind == "send" else (unit, counterpart)
        arrangement = Arrangement(
            id=uuid7(),
            kind=command.kind,
            sender=sender,
            recipient=recipient,
            doc_no=command.doc_no,
            day=day,
            until=until,
            state=PROPOSED,
            proposed_at=self.calendar.stamp(now),
            proposed_by=person,
        )
        self._check_role(unit, person, arrangement, "arrange")
        self.ledger.insert_arrangement(arrangement)
        self._tell_both(arrangement, PROPOSED, arrangement.proposed_at, ref=message_id)

    def answer(self, unit: str, message_id: str, person: str, command: wire.ArrangeAnswer) -> None:
        arrangement = self.ledger.arrangement(command.arrangement)
        if arrangement is None or arrangement.counterpart != unit:
            raise Rejection(
                "unknown_arrangement", f"no arrangement {command.arrangement!r} proposed to you"
            )
        if arrangement.state != PROPOSED:
            raise Rejection(
                "arrangement_answered",
                f"arrangement {arrangement.id} was {arrangement.state}"
                f" at {arrangement.answered_at}",
            )
        self._check_role(unit, person, arrangement, "arrange_answer")
        now = self.clock.now()
        if command.accept:
            arrangements.check_still_ahead(arrangement.day, arrangement.until, now, self.calendar)
        at = self.calendar.stamp(now)
        state = ACCEPTED if command.accept else DECLINED
        if not self.ledger.answer_arrangement(arrangement.id, state, at, person):
            raise Rejection(
                "arrangement_answered", f"arrangement {arrangement.id} was answered meanwhile"
            )
        self._tell_both(arrangement, state, at, ref=message_id)

    def send_date(self, sender: str, doc_no: str, recipients: list[str], at: datetime) -> SendDate:
        """The exchange date of a document sent at `at` (§30), by the sender's arrangements."""
        day = at.astimezone(self.calendar.timezone).date().isoformat()
        return arrangements.send_date(
            at, self.calendar, self.ledger.arrangements_on(day, sender), doc_no, recipients
        )

    def receipt_date(
        self, sender: str, doc_no: str, recipient: str, at: datetime
    ) -> tuple[str, str]:
        """The exchange date of a receipt at `at` (§33), and the arrangement that gave it."""
        day = at.astimezone(self.calendar.timezone).date().isoformat()
        agreed = [
            arrangement
            for arrangement in self.ledger.arrangements_on(day, sender)
            if arrangement.kind == "receive" and arrangement.recipient == recipient
        ]
        dated, arrangement_id = arrangements.dated(at, self.calendar, agreed, doc_no)
        return dated.isoformat(), arrangement_id

    def _check_role(self, unit: str, person: str, arrangement: Arrangement, command: str) -> None:
        """§14: the sending side's clerks agree with the send role (发文), the receiving
        side's with the receive role (收文)."""
        if not person:
            return
        role = "send" if unit == arrangement.sender else "receive"
        registered = self.ledger.person(unit, person)
        if registered is not None and role not in registered.roles:
            raise Rejection(
                "role_missing",
                f"{person!r} does not hold the role {role} ({persons.ROLES[role]}) that"
                f" {command} needs; the unit's administrator assigns roles (§13, §14)",
            )

    def _tell_both(self, arrangement: Arrangement, state: str, at: str, ref: str) -> None:
        """The acting unit gets the answer to its command; the other unit gets the news."""
        acting = arrangement.proposer if state == PROPOSED else arrangement.counterpart
        other = arrangement.counterpart if state == PROPOSED else arrangement.proposer
        text = description(arrangement)
        for unit in (acting, other):
            self.tell(
                unit,
                wire.Status(
                    ref=ref if unit == acting else "",
                    state=f"arrangement_{state}",
                    message=text,
                    at=at,
                    arrangements=[arrangement.id],
                ),
            )


def description(arrangement: Arrangement) -> str:
    """What was agreed, as both units read it (each sentence is listed for translation in
    docex/cli/rejections.py)."""
    day, until = arrangement.day.isoformat(), arrangement.until.strftime("%H:%M")
    asker, other = arrangement.proposer, arrangement.counterpart
    if arrangement.kind == "send":
        if arrangement.doc_no:
            return (
                f"{asker!r} asks {other!r} to send it document {arrangement.doc_no} on {day}"
                f" until {until} (§30)"
            )
        return f"{asker!r} asks {other!r} to send it its documents on {day} until {until} (§30)"
    if arrangement.doc_no:
        return (
            f"{asker!r} asks {other!r} to receive its document {arrangement.doc_no} on {day}"
            f" until {until} (§33)"
        )
    return f"{asker!r} asks {other!r} to receive its documents on {day} until {until} (§33)"
