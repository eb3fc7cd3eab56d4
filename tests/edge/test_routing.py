"""Documents routed end to end through a real router, real RabbitMQ and a real ledger file."""

from __future__ import annotations

from datetime import UTC, datetime

from docex import wire
from docex.config import Config
from docex.ids import uuid7
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki
from tests.documents import ofd, sealed_envelope, submit

# No public signature is known for CEB (docex/formats.py): a binary body of some fixed layout.
CEB = b"\x00\x01\x02CEB\x00" + bytes(range(256)) * 4


async def delivered(client: UnitClient, doc_id: str) -> wire.Deliver:
    def find() -> wire.Deliver | None:
        return next(
            (d.deliver for d in client.mailbox.deliveries() if d.deliver.envelope.id == doc_id),
            None,
        )

    return await client.wait_for(find, timeout=10)


async def sender_news(client: UnitClient, doc_id: str, state: str, count: int) -> list[wire.Status]:
    def find() -> list[wire.Status] | None:
        found = [s for s in client.mailbox.statuses(doc_id) if s.state == state]
        return found if len(found) >= count else None

    return await client.wait_for(find, timeout=10)


async def test_document_reaches_main_and_copy_recipients(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    """§31: the sender picks main and copy recipients and the copies each may print."""
    envelope = sealed_envelope(
        pki.signing["gov-office"],
        to=["finance"],
        cc=["education"],
        print_quota={"finance": 3, "education": 1},
    )
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status)
    assert (answer.state, answer.reason) == ("accepted", "")

    to_finance = await delivered(units["finance"], envelope.id)
    to_education = await delivered(units["education"], envelope.id)
    assert (to_finance.role, to_finance.print_quota) == ("main", 3)
    assert (to_education.role, to_education.print_quota) == ("copy", 1)
    assert to_finance.envelope.content == envelope.content
    assert to_finance.envelope.seal == envelope.seal
    assert [d.seal_error for d in units["finance"].mailbox.deliveries()] == [""]

    news = await sender_news(units["gov-office"], envelope.id, "delivered", 2)
    assert sorted(s.recipient for s in news) == ["education", "finance"]


async def test_ofd_documents_are_routed(units: dict[str, UnitClient], pki: Pki) -> None:
    """§27: OFD, a ZIP container with OFD.xml at its root, is an accepted body format."""
    envelope = sealed_envelope(
        pki.signing["finance"], sender="finance", to=["gov-office"], content=ofd(), format="ofd"
    )
    answer = await units["finance"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    assert (await delivered(units["gov-office"], envelope.id)).envelope.format == "ofd"


async def test_ceb_documents_are_routed_without_configured_magic(
    units: dict[str, UnitClient], pki: Pki, config: Config
) -> None:
    """§27: CEB, the rulebook's format, is accepted with nothing under [formats]."""
    assert config.formats == {}
    envelope = sealed_envelope(
        pki.signing["finance"], sender="finance", to=["gov-office"], content=CEB, format="ceb"
    )
    answer = await units["finance"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    delivery = await delivered(units["gov-office"], envelope.id)
    assert (delivery.envelope.format, delivery.envelope.content) == ("ceb", CEB)


async def test_send_time_is_commit_time_and_counts_by_the_cutoff(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§30, §32: sent = committed by the router; from 15:00 it counts for the next workday."""
    clock.current = datetime(2026, 11, 27, 6, 59, 59, tzinfo=UTC)  # Friday 14:59:59 in Beijing
    before = sealed_envelope(pki.signing["gov-office"])
    answer = await units["gov-office"].request(submit(before))
    assert (answer.at, answer.exchange_date) == ("2026-11-27T14:59:59.000+08:00", "2026-11-27")

    clock.current = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # Friday 15:00:00
    after = sealed_envelope(pki.signing["gov-office"])
    answer = await units["gov-office"].request(submit(after))
    assert isinstance(answer, wire.Status)
    assert (answer.at, answer.exchange_date) == ("2026-11-27T15:00:00.000+08:00", "2026-11-30")
    assert (await delivered(units["finance"], after.id)).sent_exchange_date == "2026-11-30"


async def test_first_receipt_sets_receipt_time_once(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§37: the first read sets the receipt time and date; later receipts do not move it."""
    envelope = sealed_envelope(pki.signing["gov-office"], cc=["education"])
    await units["gov-office"].request(submit(envelope))
    await delivered(units["finance"], envelope.id)

    clock.current = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)  # 16:30: counts for Friday
    first = await units["finance"].request(
        wire.Receipt(v=wire.VERSION, doc_id=envelope.id, kind="read")
    )
    clock.current = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    again = await units["finance"].request(
        wire.Receipt(v=wire.VERSION, doc_id=envelope.id, kind="downloaded")
    )
    assert isinstance(first, wire.Status) and isinstance(again, wire.Status)
    assert (first.state, first.at, first.exchange_date) == (
        "received",
        "2026-11-26T16:30:00.000+08:00",
        "2026-11-27",
    )
    assert (again.at, again.exchange_date) == (first.at, first.exchange_date)

    news = await sender_news(units["gov-office"], envelope.id, "received", 1)
    assert [(s.recipient, s.at) for s in news] == [("finance", first.at)]

    status = await units["gov-office"].request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
    assert isinstance(status, wire.DocumentStatus)
    states = {r.recipient: (r.state, r.received_at) for r in status.recipients}
    assert states == {"finance": ("received", first.at), "education": ("delivered", None)}


async def test_a_declassified_download_is_the_receipt(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    """§36, §37: a declassified download first, with no read or print before it, sets the
    receipt time, and the sender is told."""
    envelope = sealed_envelope(pki.signing["gov-office"])
    await units["gov-office"].request(submit(envelope))
    await delivered(units["finance"], envelope.id)
    answer = await units["finance"].request(
        wire.Receipt(v=wire.VERSION, doc_id=envelope.id, kind="downloaded")
    )
    assert isinstance(answer, wire.Status) and answer.state == "received"
    [news] = await sender_news(units["gov-office"], envelope.id, "received", 1)
    assert (news.recipient, news.at) == ("finance", answer.at)


async def test_a_recipient_sees_only_its_own_delivery(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    envelope = sealed_envelope(pki.signing["gov-office"], cc=["education"])
    await units["gov-office"].request(submit(envelope))
    status = await units["education"].request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
    assert isinstance(status, wire.DocumentStatus)
    assert [r.recipient for r in status.recipients] == ["education"]


async def test_the_same_command_twice_is_applied_once(
    units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    """A client that retries after a lost confirm must not send the document twice."""
    envelope = sealed_envelope(pki.signing["gov-office"])
    message_id = uuid7()
    await units["gov-office"].publish(submit(envelope), message_id)
    await units["gov-office"].publish(submit(envelope), message_id)
    marker = await units["gov-office"].request(wire.StatusQuery(v=wire.VERSION, doc_id=envelope.id))
    assert isinstance(marker, wire.DocumentStatus)
    await delivered(units["finance"], envelope.id)

    answers = [s for s in units["gov-office"].mailbox.statuses() if s.ref == message_id]
    assert [a.state for a in answers] == ["accepted"]
    assert len(router.ledger.deliveries(envelope.id)) == 1
    assert len(units["finance"].mailbox.deliveries()) == 1
