"""SMS reminders (§16): what a unit's registered users hear about by text, and in what words.

Who hears: the unit's `contacts` in the router's config, and every active person in the
register of persons (§13) who receives documents (收文) and gave a mobile; a number once.

A reminder is queued when the message it is about has reached the unit's queue (the broker
confirmed it), in the same transaction that records that: a crash neither loses a reminder
nor sends one for a message still waiting. Users hear about what asks something of them: a
document to sign for, one withdrawn before they took it in, link faults and the paper
fallback, information requests and the reminders about information owed. Answers to their
own commands they are already looking at, and get no text. docex/router/sms_sender.py sends them.
"""

from __future__ import annotations

import msgspec

from docex import wire
from docex.config import Config, Unit
from docex.core import texts
from docex.ledger.port import Ledger
from docex.ledger.records import OutboxRow, StoredDocument, stored_envelope

_MESSAGES = msgspec.msgpack.Decoder(wire.Withdrawn | wire.Notice | wire.InfoItem | wire.InfoNotice)
_REMINDED = ("withdrawn", "notice", "info_item", "info_notice")


class Reminders:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def delivered(self, config: Config, document: StoredDocument, recipient: str, at: str) -> None:
        """The document is in the recipient's queue: a text for each of its users."""
        unit, numbers = self._texted(config, recipient)
        delivery = self.ledger.delivery(document.id, recipient) if numbers else None
        if unit is None or delivery is None:
            return
        text = texts.sms_delivered(
            unit.name,
            _name(config, document.sender),
            resent=delivery.attempt > 1,
            role=delivery.role,
            document=_naming(document),
        )
        self._queue(config, unit, numbers, text, at)

    def reached(self, config: Config, row: OutboxRow, at: str) -> None:
        """Another message is in its unit's queue; the ones that ask something of the unit's
        users get a text for each of them."""
        if row.type not in _REMINDED:
            return
        unit, numbers = self._texted(config, row.routing_key)
        if unit is None or not numbers:
            return
        assert row.body is not None
        text = self._text(config, _MESSAGES.decode(row.body))
        if text is not None:
            self._queue(config, unit, numbers, text, at)

    def _text(
        self,
        config: Config,
        message: wire.Withdrawn | wire.Notice | wire.InfoItem | wire.InfoNotice,
    ) -> str | None:
        match message:
            case wire.Withdrawn():
                document = self.ledger.document(message.doc_id)
                if document is None:
                    return None
                return texts.sms_withdrawn(_name(config, document.sender), _naming(document))
            case wire.Notice(kind="paper"):
                office = config.unit(config.router.office_unit)
                return texts.sms_paper(
                    _name(config, message.recipient),
                    len(message.documents),
                    office.name if office else texts.DEFAULT_OFFICE_NAME,
                )
            case wire.Notice() | wire.InfoNotice():
                return message.text
            case wire.InfoItem(kind="request"):
                return texts.sms_request(
                    _name(config, message.sender), message.title, message.deadline
                )
            case _:
                return None

    def _queue(
        self, config: Config, unit: Unit, numbers: dict[str, str], text: str, at: str
    ) -> None:
        for mobile, name in numbers.items():
            self.ledger.queue_sms(unit.id, name, mobile, config.sms.signature + text, at)

    def _texted(self, config: Config, unit_id: str) -> tuple[Unit | None, dict[str, str]]:
        """The unit, if SMS is on, and whom its texts go to, by mobile: its configured
        contacts, then its persons who receive documents (§13 收文), not disabled, with a
        mobile (§16)."""
        unit = config.unit(unit_id) if config.sms.mqtt_host else None
        if unit is None:
            return None, {}
        numbers = {contact.mobile: contact.name for contact in unit.contacts}
        for person in self.ledger.persons(unit.id):
            texted = person.status == "active" and "receive" in person.roles and not person.system
            if texted and person.mobile and person.mobile not in numbers:
                numbers[person.mobile] = person.chinese_name or person.name
        return unit, numbers


def _naming(document: StoredDocument) -> str:
    public = stored_envelope(document).classification == "public"
    return texts.document_named(document.title, document.doc_no, public)


def _name(config: Config, unit_id: str) -> str:
    unit = config.unit(unit_id)
    return unit.name if unit else unit_id
