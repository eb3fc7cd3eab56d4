"""Information exchange (§39–§45): work updates, requests to handle, special reports,
government information for the General Office, and periodicals.

Information carries no seal: "who exchanges it answers for it" (§40), and the router vouches
only that the broker-authenticated unit sent it. Each accepted item is kept in the ledger and
handed to its recipients as a `wire.InfoItem` through the outbox; every command gets one
answer, `accepted` with the item's id or `rejected` with a reason code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import msgspec
import structlog

from docex import wire
from docex.clock import Clock
from docex.config import Config
from docex.core.rejection import Rejection
from docex.core.rules import check_exclusions
from docex.exchange_date import ExchangeCalendar
from docex.ids import uuid7
from docex.ledger.port import Ledger
from docex.ledger.records import StoredInfo
from docex.router.metrics import Metrics
from docex.router.work_updates import PeriodError, due_date

log = structlog.get_logger("docex.router")

Tell = Callable[[str, wire.RouterMessage], None]

# §44: a revision or a solicited piece says so in its title.
REVISION_MARK = "【修改稿】"
SOLICITED_MARK = "【约稿】"


class Information:
    def __init__(
        self,
        ledger: Ledger,
        config: Config,
        calendar: ExchangeCalendar,
        clock: Clock,
        tell: Tell,
        metrics: Metrics,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.calendar = calendar
        self.clock = clock
        self.tell = tell
        self.metrics = metrics

    def info(self, sender: str, message_id: str, command: wire.Info) -> None:
        check_exclusions(
            command.classification, command.urgency, command.private, what="information items"
        )
        if not command.title.strip():
            raise Rejection("missing_title", "an information item needs a title")
        item = wire.InfoItem(
            id=uuid7(),
            kind=command.kind,
            sender=sender,
            title=command.title,
            content=command.content,
            at=self.calendar.stamp(self.clock.now()),
            classification=command.classification,
        )
        match command.kind:
            case "update":
                item, recipients = self._update(item, command)
            case "request":
                item, recipients = self._request(sender, item, command)
            case "report":
                recipients = self._units(sender, command.to)
            case "gov_info":
                item, recipients = self._gov_info(sender, item, command)
            case "periodical":
                item, recipients = self._periodical(sender, item, command)
            case _:
                raise Rejection("unknown_info_kind", f"unknown info kind {command.kind!r}")
        self._store_and_send(item, recipients)
        self._accepted(sender, message_id, item.id, item.at)
        self.metrics.info_items.labels(item.kind).inc()
        log.info("info_accepted", info_id=item.id, kind=item.kind, sender=sender, to=recipients)

    def reply(self, unit: str, message_id: str, command: wire.Reply) -> None:
        """§42: the handling unit replies, or explains a delay while there is still time."""
        request = self.ledger.info(command.info_id)
        if request is None or request.kind != "request":
            raise Rejection("unknown_info", f"no request {command.info_id!r}")
        if unit not in self.ledger.info_recipients(request.id):
            raise Rejection("not_addressed_to_you", f"request {request.id!r} was not sent to you")
        if request.replied_at is not None:
            raise Rejection("already_replied", f"request {request.id!r} was replied to")
        if not command.content.strip():
            raise Rejection("missing_content", "say what was done, or why it is late")
        now = self.calendar.stamp(self.clock.now())
        if command.delay and request.deadline and request.deadline <= now:
            raise Rejection(
                "deadline_passed",
                f"a delay is explained before the deadline ({request.deadline}); reply instead",
            )
        item = wire.InfoItem(
            id=uuid7(),
            kind="reply",
            sender=unit,
            title=_item(request).title,
            content=command.content,
            at=now,
            in_reply_to=request.id,
            delay=command.delay,
        )
        self.ledger.mark_info(
            request.id, "delay_explained_at" if command.delay else "replied_at", now
        )
        self._store_and_send(item, [request.sender])
        self._accepted(unit, message_id, request.id, now)

    def adopt(self, unit: str, message_id: str, command: wire.Adopt) -> None:
        """§44: only the General Office says which government information it adopted."""
        if unit != self.config.router.office_unit:
            raise Rejection("not_office", "only the General Office adopts government information")
        piece = self.ledger.info(command.info_id)
        if piece is None or piece.kind != "gov_info":
            raise Rejection("unknown_info", f"no government information {command.info_id!r}")
        if piece.adopted_at is not None:
            raise Rejection("already_adopted", f"{piece.id!r} was adopted at {piece.adopted_at}")
        now = self.calendar.stamp(self.clock.now())
        self.ledger.mark_info(piece.id, "adopted_at", now)
        for submitter in [piece.sender, *_item(piece).co_units]:
            self.tell(submitter, wire.Status(doc_id=piece.id, state="adopted", at=now))
        self._accepted(unit, message_id, piece.id, now)

    def _update(self, item: wire.InfoItem, command: wire.Info) -> tuple[wire.InfoItem, list[str]]:
        """§41: filed in the work-updates column, which the General Office reads."""
        try:
            due_date(command.period, self.config.information)
        except PeriodError as exc:
            raise Rejection("invalid_period", str(exc)) from None
        if command.part not in wire.UPDATE_PARTS:
            raise Rejection(
                "invalid_part", f"part is {' or '.join(wire.UPDATE_PARTS)}, not {command.part!r}"
            )
        item = msgspec.structs.replace(item, period=command.period, part=command.part)
        return item, self._office(item.sender)

    def _request(
        self, sender: str, item: wire.InfoItem, command: wire.Info
    ) -> tuple[wire.InfoItem, list[str]]:
        """§42: the request states plainly what is to be done, and its deadline if it has one."""
        if not command.content.strip():
            raise Rejection("missing_content", "say what the recipient is to handle")
        recipients = self._units(sender, command.to)
        if not command.deadline:
            return item, recipients
        try:
            deadline = datetime.fromisoformat(command.deadline)
            if deadline.tzinfo is None:
                raise ValueError("no offset")
            # A time near year 1 or 9999 may not exist in the exchange's own time zone.
            stamp = self.calendar.stamp(deadline)
        except (ValueError, OverflowError):
            raise Rejection(
                "invalid_deadline", f"{command.deadline!r} is not an ISO 8601 time with offset"
            ) from None
        if deadline <= self.clock.now():
            raise Rejection("deadline_passed", f"the deadline {command.deadline} has passed")
        return msgspec.structs.replace(item, deadline=stamp), recipients

    def _gov_info(
        self, sender: str, item: wire.InfoItem, command: wire.Info
    ) -> tuple[wire.InfoItem, list[str]]:
        """§44: joint pieces name their co-submitters and authors; revisions and solicited
        pieces say so in the title."""
        registered = self.config.units_by_id()
        for unit_id in command.co_units:
            if unit_id not in registered:
                raise Rejection("unknown_unit", f"no unit {unit_id!r} to submit jointly with")
        if command.co_units and not command.authors:
            raise Rejection("missing_authors", "a joint submission names its authors (§44)")
        title = command.title
        for flag, mark in ((command.solicited, SOLICITED_MARK), (command.revision, REVISION_MARK)):
            if flag and mark not in title:
                title = mark + title
        item = msgspec.structs.replace(
            item, title=title, co_units=command.co_units, authors=command.authors
        )
        recipients = self._office(sender)
        if not recipients:
            raise Rejection("no_office_unit", "no General Office is configured to receive it")
        return item, recipients

    def _periodical(
        self, sender: str, item: wire.InfoItem, command: wire.Info
    ) -> tuple[wire.InfoItem, list[str]]:
        """§45: the publisher sets the reader scope, by unit or by a configured group."""
        readers = dict.fromkeys(command.readers)
        if command.reader_group:
            group = self.config.information.reader_groups.get(command.reader_group)
            if group is None:
                raise Rejection("unknown_reader_group", f"no reader group {command.reader_group!r}")
            # A group outlives its members: one revoked or merged since is simply left out.
            registered = self.config.units_by_id()
            for unit_id in group:
                unit = registered.get(unit_id)
                if unit is not None and unit.status == "active":
                    readers.setdefault(unit_id)
        readers.pop(sender, None)
        recipients = self._units(sender, list(readers))
        return msgspec.structs.replace(item, issue=command.issue), recipients

    def _units(self, sender: str, unit_ids: list[str]) -> list[str]:
        if not unit_ids:
            raise Rejection("no_recipients", "name at least one recipient")
        registered = self.config.units_by_id()
        for unit_id in unit_ids:
            unit = registered.get(unit_id)
            if unit is None:
                raise Rejection("unknown_unit", f"no unit {unit_id!r}")
            if unit.status != "active":
                raise Rejection("recipient_revoked", f"unit {unit_id!r} is {unit.status}")
        return list(dict.fromkeys(unit_ids))

    def _office(self, sender: str) -> list[str]:
        office = self.config.router.office_unit
        return [office] if office and office != sender else []

    def _store_and_send(self, item: wire.InfoItem, recipients: list[str]) -> None:
        stored = StoredInfo(
            id=item.id,
            kind=item.kind,
            sender=item.sender,
            item=wire.encode(item),
            created_at=item.at,
            deadline=item.deadline,
            replied_at=None,
            delay_explained_at=None,
            overdue_at=None,
            adopted_at=None,
        )
        self.ledger.insert_info(stored, recipients, item.period, item.part)
        for recipient in recipients:
            self.tell(recipient, item)

    def _accepted(self, unit: str, message_id: str, info_id: str, at: str) -> None:
        self.tell(unit, wire.Status(ref=message_id, doc_id=info_id, state="accepted", at=at))


def _item(stored: StoredInfo) -> wire.InfoItem:
    return msgspec.msgpack.decode(stored.item, type=wire.InfoItem)
