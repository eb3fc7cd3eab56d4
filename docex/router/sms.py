"""SMS reminders (§16): what a unit's registered users hear about by text, and in what words.

A reminder is queued when the message it is about has reached the unit's queue (the broker
confirmed it), in the same transaction that records that: a crash neither loses a reminder
nor sends one for a message still waiting. Users hear about what asks something of them: a
document to sign for, one withdrawn before they took it in, link faults and the paper
fallback, information requests and the reminders about information owed. Answers to their
own commands they are already looking at, and get no text. docex/router/sms_sender.py sends them.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from docex import wire
from docex.config import Config, Unit
from docex.ledger.port import Ledger
from docex.ledger.records import OutboxRow, StoredDocument, stored_envelope

_MESSAGES = msgspec.msgpack.Decoder(wire.Withdrawn | wire.Notice | wire.InfoItem | wire.InfoNotice)
_REMINDED = ("withdrawn", "notice", "info_item", "info_notice")


class Reminders:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def delivered(self, config: Config, document: StoredDocument, recipient: str, at: str) -> None:
        """The document is in the recipient's queue: a text for each of its contacts."""
        unit = _texted(config, recipient)
        delivery = self.ledger.delivery(document.id, recipient)
        if unit is None or delivery is None:
            return
        role = "主送" if delivery.role == "main" else "抄送"
        again = "重发" if delivery.attempt > 1 else ""
        text = (
            f"{unit.name}：{_name(config, document.sender)}{again}{role}"
            f"{_naming(document)}，请及时签收。"
        )
        self._queue(config, unit, text, at)

    def reached(self, config: Config, row: OutboxRow, at: str) -> None:
        """Another message is in its unit's queue; the ones that ask something of the unit's
        users get a text for each of its contacts."""
        unit = _texted(config, row.routing_key)
        if unit is None or row.type not in _REMINDED:
            return
        assert row.body is not None
        text = self._text(config, _MESSAGES.decode(row.body))
        if text is not None:
            self._queue(config, unit, text, at)

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
                sender = _name(config, document.sender)
                return f"{sender}已撤回{_naming(document)}，请勿签收。"
            case wire.Notice(kind="paper"):
                # The notice itself lists titles; a text names only how many (see _naming).
                office = config.unit(config.router.office_unit)
                return (
                    f"{_name(config, message.recipient)}的{len(message.documents)}件公文因交换故障"
                    f"改按纸质方式交换（第四十七条），请与{office.name if office else '市府办公厅'}"
                    f"联系办理交接。"
                )
            case wire.Notice() | wire.InfoNotice():
                return message.text
            case wire.InfoItem(kind="request"):
                deadline = f"，办理时限 {_minutes(message.deadline)}" if message.deadline else ""
                return f"{_name(config, message.sender)}请求办理《{message.title}》{deadline}。"
            case _:
                return None

    def _queue(self, config: Config, unit: Unit, text: str, at: str) -> None:
        for contact in unit.contacts:
            self.ledger.queue_sms(
                unit.id, contact.name, contact.mobile, config.sms.signature + text, at
            )


def _texted(config: Config, unit_id: str) -> Unit | None:
    """The unit, if SMS is on and it registered someone to text; asked first, since most
    messages go to units that did not."""
    if not config.sms.mqtt_host:
        return None
    unit = config.unit(unit_id)
    return unit if unit is not None and unit.contacts else None


def _naming(document: StoredDocument) -> str:
    """A text passes through the SMS operator's hands: only a public document's title goes
    in it; any other is named by its 文号 alone."""
    if stored_envelope(document).classification == "public":
        return f"公文《{document.title}》（{document.doc_no}）"
    return f"内部公文（{document.doc_no}）"


def _name(config: Config, unit_id: str) -> str:
    unit = config.unit(unit_id)
    return unit.name if unit else unit_id


def _minutes(stamp: str) -> str:
    """An exchange stamp as people write it: 2026-12-01 17:00 (a text is short)."""
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M")
