"""Receiving on time (§33): a recipient that has not received a document within
`[links] receive_reminder_hours` of workday time is reminded once, by notice and by text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from docex import wire
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import WORKDAY_MORNING, FakeClock, Pki, eventually
from tests.documents import sealed_envelope, submit
from tests.edge.test_sms import FINANCE_CONTACTS, Gateway, gateway, with_sms

__all__ = ["gateway"]  # the fixture, used by name

REMINDED = "docex_receive_reminders_total"


@pytest.fixture
def config_file(config_file: Path, prefix: str) -> Path:
    return with_sms(config_file, prefix, per_hour=6, port=1883)


async def send(units: dict[str, UnitClient], pki: Pki, **headers: object) -> wire.Envelope:
    envelope = sealed_envelope(pki.signing["gov-office"], **headers)  # type: ignore[arg-type]
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    for unit in [*envelope.to, *envelope.cc]:
        await units[unit].wait_for(lambda u=unit: units[u].mailbox.delivery(envelope.id), 10)
    return envelope


def reminders(client: UnitClient) -> list[wire.Notice]:
    return [n for n in client.mailbox.notices() if n.kind == "receive_reminder"]


async def test_a_document_not_received_in_time_is_reminded_once(
    units: dict[str, UnitClient], pki: Pki, router: Router, clock: FakeClock, gateway: Gateway
) -> None:
    """§33, §16: 24 workday hours after delivery (the default), the recipient that has not
    received the document gets one notice, and each of its registered users a text; the one
    that received it gets nothing."""
    envelope = await send(units, pki, to=["finance"], cc=["education"])
    read = await units["education"].request(wire.Receipt(v=1, doc_id=envelope.id, kind="read"))
    assert isinstance(read, wire.Status) and read.state == "received"
    await eventually(lambda: len(gateway.texts) == 2, "the texts of the delivery")

    clock.current = WORKDAY_MORNING + timedelta(hours=23, minutes=59)
    router.receivewatch.check()
    assert router.metrics.registry.get_sample_value(REMINDED) == 0
    clock.current = WORKDAY_MORNING + timedelta(hours=24, seconds=1)
    router.receivewatch.check()
    router.receivewatch.check()

    notice = (await units["finance"].wait_for(lambda: reminders(units["finance"]) or None, 10))[0]
    assert (notice.documents, notice.recipient) == ([envelope.id], "finance")
    assert notice.started_at == router.ledger.delivery(envelope.id, "finance").delivered_at  # type: ignore[union-attr]
    assert "尚未签收" in notice.text and "《关于做好年终工作的通知》" in notice.text
    await eventually(lambda: len(gateway.texts) == 4, "a reminder text to each finance contact")
    assert {str(text["mobile"]) for text in gateway.texts[2:]} == set(FINANCE_CONTACTS)
    assert all("尚未签收" in str(text["text"]) for text in gateway.texts[2:])
    assert reminders(units["education"]) == []
    assert len(reminders(units["finance"])) == 1
    assert router.metrics.registry.get_sample_value(REMINDED) == 1


async def test_weekends_and_holidays_do_not_count_against_the_recipient(
    units: dict[str, UnitClient], pki: Pki, router: Router, clock: FakeClock
) -> None:
    """§33: time is counted on workdays only (节假日除外): delivered Friday at 16:00, a
    document is due a reminder on Monday at 16:00, not on Saturday."""
    clock.current = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 16:00 in Beijing
    envelope = await send(units, pki, to=["finance"])
    clock.current = datetime(2026, 11, 30, 7, 59, tzinfo=UTC)  # Monday 15:59
    router.receivewatch.check()
    assert router.metrics.registry.get_sample_value(REMINDED) == 0
    clock.current = datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)  # Monday 16:00:01
    router.receivewatch.check()
    notice = (await units["finance"].wait_for(lambda: reminders(units["finance"]) or None, 10))[0]
    assert notice.documents == [envelope.id]
    assert router.metrics.registry.get_sample_value(REMINDED) == 1
