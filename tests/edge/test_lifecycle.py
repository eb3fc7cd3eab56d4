"""After delivery (§28, §34–§38): print, receipt, return, resend, extra copies, withdraw."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from docex import wire
from docex.config import Config
from docex.ids import uuid7
from docex.router.handler import Inbound, Verdict
from docex.router.service import Router
from docex.seals.ca import load_ca_certificate
from docex.seals.kinds import SealKind
from docex.seals.seal import Seal
from docex.seals.verify import SealVerifier
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, amqp_user
from tests.documents import sealed_envelope, submit
from tests.edge.test_operations import edit, unit_block

V = wire.VERSION


async def sent(units: dict[str, UnitClient], pki: Pki, **headers: object) -> wire.Envelope:
    """A document from the General Office to Finance (main) and Education (copy), delivered."""
    headers = {
        "to": ["finance"],
        "cc": ["education"],
        "print_quota": {"finance": 3, "education": 1},
        **headers,
    }
    envelope = sealed_envelope(pki.signing["gov-office"], **headers)  # type: ignore[arg-type]
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    return envelope


def print_request(seal: Seal, unit: str, doc_id: str, copies: int) -> tuple[wire.PrintRequest, str]:
    message_id = uuid7()
    request = wire.PrintRequest(v=V, doc_id=doc_id, copies=copies)
    signature = seal.sign(wire.print_request_bytes(request, unit, message_id))
    stamp = wire.SealStamp(
        serial=seal.serial, alg="ed25519", cert=seal.certificate_der, sig=signature
    )
    return msgspec.structs.replace(request, seal=stamp), message_id


async def ask_to_print(
    units: dict[str, UnitClient],
    pki: Pki,
    unit: str,
    doc_id: str,
    copies: int,
    seal: Seal | None = None,
) -> wire.Answer:
    request, message_id = print_request(seal or pki.verification[unit], unit, doc_id, copies)
    return await units[unit].request(request, message_id=message_id)


async def test_printing_is_numbered_within_the_quota_and_sealed_by_the_exchange(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§31, §35, §37: numbered copies within the sender's quota; the first print is the receipt."""
    envelope = await sent(units, pki)
    first = await ask_to_print(units, pki, "finance", envelope.id, 2)
    assert isinstance(first, wire.PrintGrant)
    assert (first.first_copy, first.last_copy, first.remaining) == (1, 2, 1)
    assert first.seal is not None
    verifier = SealVerifier(load_ca_certificate(pki.ca_certificate))
    verifier.verify(
        first.seal.cert,
        wire.signed_bytes(first),
        first.seal.sig,
        unit_id="exchange",
        kind=SealKind.EXCHANGE,
        at=datetime.now(UTC),
    )

    denied = await ask_to_print(units, pki, "finance", envelope.id, 2)
    assert isinstance(denied, wire.PrintDenied)
    assert (denied.requested, denied.remaining) == (2, 1)
    clock.current += timedelta(minutes=5)
    last = await ask_to_print(units, pki, "finance", envelope.id, 1)
    assert isinstance(last, wire.PrintGrant) and (last.first_copy, last.last_copy) == (3, 3)
    assert last.at > first.at, "each grant carries its own time; the receipt keeps the first"

    status = await units["finance"].request(wire.StatusQuery(v=V, doc_id=envelope.id))
    assert isinstance(status, wire.DocumentStatus)
    [mine] = status.recipients
    assert (mine.state, mine.printed, mine.print_quota, mine.received_at) == (
        "received",
        3,
        3,
        first.at,
    )


async def test_two_requests_for_the_last_copy_one_wins(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    """§35: the quota holds even when requests race."""
    envelope = await sent(units, pki)
    answers = await asyncio.gather(
        ask_to_print(units, pki, "education", envelope.id, 1),
        ask_to_print(units, pki, "education", envelope.id, 1),
    )
    assert sorted(type(a).__name__ for a in answers) == ["PrintDenied", "PrintGrant"]


@pytest.mark.parametrize(
    ("seal_of", "code"),
    [
        (lambda pki: pki.signing["finance"], "seal_wrong_kind"),
        (lambda pki: pki.verification["education"], "seal_wrong_unit"),
        (lambda pki: pki.exchange, "seal_wrong_unit"),
    ],
)
async def test_printing_needs_the_units_own_verification_seal(
    units: dict[str, UnitClient],
    pki: Pki,
    router: Router,
    seal_of,
    code: str,  # type: ignore[no-untyped-def]
) -> None:
    """§18, §35: the verification seal, not the signing seal nor another unit's."""
    envelope = await sent(units, pki)
    answer = await ask_to_print(units, pki, "finance", envelope.id, 1, seal=seal_of(pki))
    assert isinstance(answer, wire.Status) and (answer.state, answer.reason) == ("rejected", code)
    assert router.ledger.delivery(envelope.id, "finance").printed == 0  # type: ignore[union-attr]


async def test_a_print_request_cannot_be_replayed_under_another_id(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    envelope = await sent(units, pki)
    request, _ = print_request(pki.verification["finance"], "finance", envelope.id, 1)
    answer = await units["finance"].request(request)
    assert isinstance(answer, wire.Status) and answer.reason == "seal_bad_signature"


@pytest.mark.parametrize("copies", [0, -2])
async def test_zero_or_negative_copies_are_refused(
    units: dict[str, UnitClient], pki: Pki, copies: int
) -> None:
    envelope = await sent(units, pki)
    answer = await ask_to_print(units, pki, "finance", envelope.id, copies)
    assert isinstance(answer, wire.Status) and answer.reason == "invalid_copies"


async def test_a_grant_for_the_largest_quota_is_small_and_names_a_range(
    units: dict[str, UnitClient], pki: Pki, config: Config
) -> None:
    """§31, §35: a grant numbers its copies as a range: its size does not grow with them."""
    most = config.exchange.max_print_quota
    envelope = await sent(units, pki, print_quota={"finance": most, "education": 1})
    grant = await ask_to_print(units, pki, "finance", envelope.id, most)
    assert isinstance(grant, wire.PrintGrant)
    assert (grant.first_copy, grant.last_copy, grant.remaining) == (1, most, 0)
    assert len(wire.encode(grant)) < 1024, "the exchange's certificate is most of it"


async def test_extra_copies_cannot_lift_a_quota_past_the_maximum(
    units: dict[str, UnitClient], pki: Pki, config: Config, router: Router
) -> None:
    """§38: extra copies are granted up to what the sender could have set at once (§31)."""
    most = config.exchange.max_print_quota
    envelope = await sent(units, pki, print_quota={"finance": most - 1, "education": 1})
    up_to = await units["gov-office"].request(
        wire.QuotaGrant(v=V, doc_id=envelope.id, recipient="finance", copies=1)
    )
    assert isinstance(up_to, wire.Status) and up_to.message == f"quota now {most}"
    past = await units["gov-office"].request(
        wire.QuotaGrant(v=V, doc_id=envelope.id, recipient="finance", copies=1)
    )
    assert isinstance(past, wire.Status) and (past.state, past.reason) == (
        "rejected",
        "quota_too_large",
    )
    assert router.ledger.delivery(envelope.id, "finance").print_quota == most  # type: ignore[union-attr]


async def test_unknown_or_foreign_documents_are_refused(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    envelope = await sent(units, pki, cc=[], print_quota={})
    cases = [
        (units["finance"], wire.Receipt(v=V, doc_id="no-such-document", kind="read")),
        (units["education"], wire.Receipt(v=V, doc_id=envelope.id, kind="read")),
        (units["education"], wire.Return(v=V, doc_id=envelope.id, reason="wrong")),
        (units["finance"], wire.Withdraw(v=V, doc_id=envelope.id)),
        (units["finance"], wire.Resend(v=V, doc_id=envelope.id, recipient="finance")),
        (units["education"], wire.StatusQuery(v=V, doc_id=envelope.id)),
    ]
    for client, command in cases:
        answer = await client.request(command)
        assert isinstance(answer, wire.Status), command
        assert (answer.state, answer.reason) == ("rejected", "unknown_document"), command


async def test_return_before_receipt_tells_the_sender_why(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    """§34: a wrong document is returned, with the reason, before it is taken in."""
    envelope = await sent(units, pki)
    answer = await units["finance"].request(wire.Return(v=V, doc_id=envelope.id, reason="文号有误"))
    assert isinstance(answer, wire.Status) and answer.state == "returned"
    news = await units["gov-office"].wait_for(
        lambda: next(
            (s for s in units["gov-office"].mailbox.statuses(envelope.id) if s.state == "returned"),
            None,
        ),
        timeout=10,
    )
    assert (news.recipient, news.message) == ("finance", "文号有误")
    printing = await ask_to_print(units, pki, "finance", envelope.id, 1)
    assert isinstance(printing, wire.Status) and printing.reason == "document_returned"


async def test_return_after_receipt_is_refused(units: dict[str, UnitClient], pki: Pki) -> None:
    """§34, §37: once printed it was received; it can no longer be returned."""
    envelope = await sent(units, pki)
    await ask_to_print(units, pki, "finance", envelope.id, 1)
    answer = await units["finance"].request(wire.Return(v=V, doc_id=envelope.id, reason="x"))
    assert isinstance(answer, wire.Status) and answer.reason == "already_received"


async def test_withdraw_takes_back_only_what_was_not_received(
    units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    envelope = await sent(units, pki)
    await units["finance"].request(wire.Receipt(v=V, doc_id=envelope.id, kind="read"))
    answer = await units["gov-office"].request(wire.Withdraw(v=V, doc_id=envelope.id))
    assert isinstance(answer, wire.WithdrawResult)
    assert (answer.withdrawn, answer.refused) == (["education"], {"finance": "received"})

    notice = await units["education"].wait_for(
        lambda: (d := units["education"].mailbox.delivery(envelope.id)) and d.withdrawn_at,
        timeout=10,
    )
    assert notice == answer.at
    late = await units["education"].request(wire.Receipt(v=V, doc_id=envelope.id, kind="read"))
    assert isinstance(late, wire.Status) and late.reason == "document_withdrawn"
    assert router.ledger.delivery(envelope.id, "education").received_at is None  # type: ignore[union-attr]

    again = await units["gov-office"].request(
        wire.Withdraw(v=V, doc_id=envelope.id, recipients=["finance"])
    )
    assert isinstance(again, wire.Status) and again.reason == "already_received"


async def test_withdrawn_before_publishing_is_never_delivered(
    units: dict[str, UnitClient], pki: Pki, router: Router, prefix: str
) -> None:
    """A delivery withdrawn while still in the outbox must not go out."""
    envelope = sealed_envelope(pki.signing["gov-office"])
    withdraw_id = uuid7()
    # One batch, as the intake applies it (docex/router/service.py): nothing awaits between
    # the two commands, so the outbox cannot publish in between.
    with router.ledger.transaction():
        for message_id, command in (
            (uuid7(), submit(envelope)),
            (withdraw_id, wire.Withdraw(v=V, doc_id=envelope.id)),
        ):
            inbound = Inbound(message_id, amqp_user(prefix, "gov-office"), wire.encode(command))
            assert router.handler.handle(inbound) is Verdict.ACK
    answer = await units["gov-office"].wait_for(
        lambda: units["gov-office"].mailbox.answer_to(withdraw_id), timeout=10
    )
    assert isinstance(answer, wire.WithdrawResult) and answer.withdrawn == ["finance"]
    # Answered after anything queued for Finance before it: a delivery would be in by now.
    marker = await units["finance"].request(wire.StatusQuery(v=V, doc_id=envelope.id))
    assert isinstance(marker, wire.DocumentStatus)
    assert units["finance"].mailbox.delivery(envelope.id) is None


async def test_resend_and_extra_copies_on_request(units: dict[str, UnitClient], pki: Pki) -> None:
    """§38: a failed print leads to a resend and extra copies, without uploading again."""
    envelope = await sent(units, pki)
    await ask_to_print(units, pki, "education", envelope.id, 1)
    asked = await units["education"].request(
        wire.ResendRequest(v=V, doc_id=envelope.id, reason="打印机卡纸")
    )
    assert isinstance(asked, wire.Status) and asked.state == "resend_requested"
    more = await units["education"].request(
        wire.QuotaRequest(v=V, doc_id=envelope.id, copies=1, reason="卡纸作废一份")
    )
    assert isinstance(more, wire.Status) and more.state == "quota_requested"

    resent = await units["gov-office"].request(
        wire.Resend(v=V, doc_id=envelope.id, recipient="education")
    )
    assert isinstance(resent, wire.Status) and resent.message == "attempt 2"
    granted = await units["gov-office"].request(
        wire.QuotaGrant(v=V, doc_id=envelope.id, recipient="education", copies=1)
    )
    assert isinstance(granted, wire.Status) and granted.message == "quota now 2"

    status = await units["gov-office"].request(wire.StatusQuery(v=V, doc_id=envelope.id))
    assert isinstance(status, wire.DocumentStatus)
    education = next(r for r in status.recipients if r.recipient == "education")
    assert (education.attempt, education.print_quota, education.printed) == (2, 2, 1)
    reprint = await ask_to_print(units, pki, "education", envelope.id, 1)
    assert isinstance(reprint, wire.PrintGrant)
    assert (reprint.first_copy, reprint.last_copy) == (2, 2)


async def test_resend_is_refused_unless_asked_for_or_returned(
    units: dict[str, UnitClient], pki: Pki
) -> None:
    envelope = await sent(units, pki)
    answer = await units["gov-office"].request(
        wire.Resend(v=V, doc_id=envelope.id, recipient="finance")
    )
    assert isinstance(answer, wire.Status) and answer.reason == "wrong_state"


async def test_paper_attachments_are_confirmed(units: dict[str, UnitClient], pki: Pki) -> None:
    """§28: attachments that cannot be digitised go on paper; the recipient confirms them."""
    envelope = await sent(units, pki, paper_attachments=["图纸一套"])
    confirmed = await units["finance"].request(wire.AttachmentsReceived(v=V, doc_id=envelope.id))
    assert isinstance(confirmed, wire.Status) and confirmed.state == "attachments_received"
    status = await units["gov-office"].request(wire.StatusQuery(v=V, doc_id=envelope.id))
    assert isinstance(status, wire.DocumentStatus)
    assert status.paper_attachments == ["图纸一套"]
    finance = next(r for r in status.recipients if r.recipient == "finance")
    assert finance.attachments_received_at == confirmed.at

    plain = await sent(units, pki)
    refused = await units["finance"].request(wire.AttachmentsReceived(v=V, doc_id=plain.id))
    assert isinstance(refused, wire.Status) and refused.reason == "no_paper_attachments"


async def test_a_return_needs_a_reason(
    units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    """§34: a recipient who returns a document says why; a blank reason is refused and the
    document stays with the recipient."""
    envelope = await sent(units, pki)
    blank = await units["finance"].request(wire.Return(v=V, doc_id=envelope.id, reason="  \t"))
    assert isinstance(blank, wire.Status) and blank.reason == "reason_required", blank
    assert router.ledger.delivery(envelope.id, "finance").state == "delivered"  # type: ignore[union-attr]
    returned = await units["finance"].request(
        wire.Return(v=V, doc_id=envelope.id, reason="非本单位职责范围")
    )
    assert isinstance(returned, wire.Status) and returned.state == "returned", returned


async def test_a_unit_revoked_while_connected_can_send_nothing(
    units: dict[str, UnitClient],
    pki: Pki,
    router: Router,
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """§9: once the registry revokes a unit, the exchange refuses what it sends, even while
    its system is still connected: here the router may not run rabbitmqctl, so the broker
    still lets the unit in (docex units provision takes its permissions later)."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no rabbitmqctl: the revocation cannot be done
    edit(config_file, unit_block("education"), unit_block("education") + 'status = "revoked"\n')
    assert await router.reload()
    failed = {"result": "failure"}
    assert router.metrics.registry.get_sample_value("docex_unit_revocations_total", failed) == 1
    envelope = sealed_envelope(pki.signing["education"], sender="education", to=["finance"])
    answer = await units["education"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.reason == "sender_revoked", answer
    assert router.ledger.document(envelope.id) is None


async def test_the_receipt_time_stays_when_a_print_follows_a_resend_request(
    units: dict[str, UnitClient], pki: Pki, router: Router, clock: FakeClock
) -> None:
    """§37: the receipt time is the first read, print or download, set once: a print made
    after the recipient asked for a resend (§38) does not move it."""
    envelope = await sent(units, pki)
    read = await units["finance"].request(wire.Receipt(v=V, doc_id=envelope.id, kind="read"))
    assert isinstance(read, wire.Status) and read.state == "received"
    clock.current += timedelta(hours=2)
    asked = await units["finance"].request(
        wire.ResendRequest(v=V, doc_id=envelope.id, reason="文件打不开")
    )
    assert isinstance(asked, wire.Status) and asked.state == "resend_requested", asked
    clock.current += timedelta(hours=1)
    printed = await ask_to_print(units, pki, "finance", envelope.id, 1)
    assert isinstance(printed, wire.PrintGrant), printed
    delivery = router.ledger.delivery(envelope.id, "finance")
    assert delivery is not None and delivery.received_at == read.at
    assert delivery.received_exchange_date == read.exchange_date
