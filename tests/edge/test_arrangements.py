"""Out-of-hours arrangements (§30, §33 second sentences) through a real router, RabbitMQ and
ledger: one unit proposes, the other accepts, and only then does a late send or receipt count
for that day."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec

from docex import wire
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.command_line import docex, sent_id
from tests.conftest import FakeClock, Pki, UnitConfigWriter
from tests.documents import PDF, sealed_envelope, submit
from tests.edge.test_persons import People, people
from tests.edge.test_routing import delivered, sender_news

__all__ = ["people"]  # the fixture, shared with tests/edge/test_persons.py

V = wire.VERSION
THURSDAY = "2026-11-26"
FRIDAY = "2026-11-27"
# Thursday in Beijing.
MORNING = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00
AFTERNOON = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 16:00
AFTER_AGREED_END = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)  # 18:30


async def propose(
    client: UnitClient, kind: wire.ArrangementKind, counterpart: str, until: str = "18:00"
) -> wire.Status:
    answer = await client.request(
        wire.Arrange(v=V, kind=kind, counterpart=counterpart, day=THURSDAY, until=until)
    )
    assert isinstance(answer, wire.Status)
    return answer


async def proposed_to(client: UnitClient, arrangement: str) -> wire.Status:
    """The news of a proposal, as the counterpart gets it."""

    def find() -> wire.Status | None:
        return next(
            (
                status
                for status in client.mailbox.statuses("")
                if status.state == "arrangement_proposed" and status.arrangements == [arrangement]
            ),
            None,
        )

    return await client.wait_for(find, timeout=10)


async def answer(client: UnitClient, arrangement: str, accept: bool = True) -> wire.Status:
    reply = await client.request(wire.ArrangeAnswer(v=V, arrangement=arrangement, accept=accept))
    assert isinstance(reply, wire.Status)
    return reply


async def agreed_late_send(units: dict[str, UnitClient]) -> str:
    """Finance asks the General Office to send Thursday's document until 18:00 (§30), and
    the General Office accepts."""
    proposal = await propose(units["finance"], "send", "gov-office")
    assert proposal.state == "arrangement_proposed", proposal
    [arrangement] = proposal.arrangements or []
    news = await proposed_to(units["gov-office"], arrangement)
    assert "'finance' asks 'gov-office' to send it its documents" in news.message
    accepted = await answer(units["gov-office"], arrangement)
    assert (accepted.state, accepted.arrangements) == ("arrangement_accepted", [arrangement])
    return arrangement


async def send_late(units: dict[str, UnitClient], pki: Pki) -> tuple[wire.Envelope, wire.Status]:
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    accepted = await units["gov-office"].request(submit(envelope))
    assert isinstance(accepted, wire.Status) and accepted.state == "accepted", accepted
    return envelope, accepted


async def test_without_an_arrangement_a_late_send_counts_for_the_next_workday(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§30: sent at 16:00 with nothing agreed, it counts for Friday."""
    clock.current = AFTERNOON
    envelope, accepted = await send_late(units, pki)
    assert (accepted.exchange_date, accepted.arrangements) == (FRIDAY, msgspec.UNSET)
    assert (await delivered(units["finance"], envelope.id)).sent_exchange_date == FRIDAY


async def test_an_accepted_late_send_counts_for_that_day_and_names_its_arrangement(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock, router: Router
) -> None:
    """§30: the recipient asked in advance, the sender agreed: sent at 16:00, before the agreed
    18:00, it counts for Thursday; the arrangement is recorded with the delivery and shown to
    the sender on its answer and in status."""
    clock.current = MORNING
    arrangement = await agreed_late_send(units)

    clock.current = AFTERNOON
    envelope, accepted = await send_late(units, pki)
    assert (accepted.exchange_date, accepted.arrangements) == (THURSDAY, [arrangement])
    assert (await delivered(units["finance"], envelope.id)).sent_exchange_date == THURSDAY
    delivery = router.ledger.delivery(envelope.id, "finance")
    assert delivery is not None and delivery.sent_arrangement == arrangement
    status = await units["gov-office"].request(wire.StatusQuery(v=V, doc_id=envelope.id))
    assert isinstance(status, wire.DocumentStatus)
    assert status.sent_exchange_date == THURSDAY
    assert [r.sent_arrangement for r in status.recipients] == [arrangement]


async def test_a_proposal_not_accepted_dates_nothing(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§30: asked but not agreed: the late send counts for Friday as usual."""
    clock.current = MORNING
    proposal = await propose(units["finance"], "send", "gov-office")
    assert proposal.state == "arrangement_proposed"

    clock.current = AFTERNOON
    _, accepted = await send_late(units, pki)
    assert (accepted.exchange_date, accepted.arrangements) == (FRIDAY, msgspec.UNSET)


async def test_after_the_agreed_time_a_send_counts_for_the_next_workday(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§30: agreed until 18:00; sent at 18:30, it counts for Friday."""
    clock.current = MORNING
    await agreed_late_send(units)

    clock.current = AFTER_AGREED_END
    _, accepted = await send_late(units, pki)
    assert (accepted.exchange_date, accepted.arrangements) == (FRIDAY, msgspec.UNSET)


async def test_an_accepted_late_receipt_counts_for_that_day(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock, router: Router
) -> None:
    """§33: the sender asked the recipient to receive Thursday's document outside hours and
    it agreed: read at 16:00, the receipt counts for Thursday, and the sealed receipt the
    sender gets names the arrangement."""
    clock.current = MORNING
    proposal = await propose(units["gov-office"], "receive", "finance")
    [arrangement] = proposal.arrangements or []
    await proposed_to(units["finance"], arrangement)
    assert (await answer(units["finance"], arrangement)).state == "arrangement_accepted"
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    await units["gov-office"].request(submit(envelope))
    await delivered(units["finance"], envelope.id)

    clock.current = AFTERNOON
    read = await units["finance"].request(wire.Receipt(v=V, doc_id=envelope.id, kind="read"))
    assert isinstance(read, wire.Status) and read.exchange_date == THURSDAY, read
    [receipt] = await sender_news(units["gov-office"], envelope.id, "received", 1)
    assert (receipt.exchange_date, receipt.arrangements) == (THURSDAY, [arrangement])
    assert receipt.seal is not None
    delivery = router.ledger.delivery(envelope.id, "finance")
    assert delivery is not None and delivery.received_arrangement == arrangement


async def test_an_unagreed_late_receipt_counts_for_the_next_workday(
    units: dict[str, UnitClient], pki: Pki, clock: FakeClock
) -> None:
    """§33: proposed by the sender, declined by the recipient: read at 16:00, Friday."""
    clock.current = MORNING
    proposal = await propose(units["gov-office"], "receive", "finance")
    [arrangement] = proposal.arrangements or []
    assert (await answer(units["finance"], arrangement, accept=False)).state == (
        "arrangement_declined"
    )
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"])
    await units["gov-office"].request(submit(envelope))
    await delivered(units["finance"], envelope.id)

    clock.current = AFTERNOON
    read = await units["finance"].request(wire.Receipt(v=V, doc_id=envelope.id, kind="read"))
    assert isinstance(read, wire.Status) and read.exchange_date == FRIDAY, read


async def test_only_the_counterpart_answers_once_and_in_time(
    units: dict[str, UnitClient], clock: FakeClock
) -> None:
    """§30, §33: the other side agrees, once, before the agreed time is over (事先)."""
    clock.current = MORNING
    proposal = await propose(units["finance"], "send", "gov-office")
    [arrangement] = proposal.arrangements or []

    by_proposer = await answer(units["finance"], arrangement)
    assert (by_proposer.state, by_proposer.reason) == ("rejected", "unknown_arrangement")
    by_stranger = await answer(units["education"], arrangement)
    assert (by_stranger.state, by_stranger.reason) == ("rejected", "unknown_arrangement")

    clock.current = AFTER_AGREED_END
    too_late = await answer(units["gov-office"], arrangement)
    assert (too_late.state, too_late.reason) == ("rejected", "arrangement_past")
    clock.current = AFTERNOON
    assert (await answer(units["gov-office"], arrangement)).state == "arrangement_accepted"
    again = await answer(units["gov-office"], arrangement, accept=False)
    assert (again.state, again.reason) == ("rejected", "arrangement_answered")


async def test_what_cannot_be_proposed_is_refused_with_its_reason(
    units: dict[str, UnitClient], clock: FakeClock
) -> None:
    """§30, §33: with another active unit, for later than 15:00, before that time is over."""
    clock.current = AFTERNOON
    cases = [
        (
            wire.Arrange(v=V, kind="send", counterpart="finance", day=THURSDAY, until="18:00"),
            "arrangement_counterpart",
        ),
        (
            wire.Arrange(v=V, kind="send", counterpart="archive", day=THURSDAY, until="18:00"),
            "arrangement_counterpart",
        ),
        (
            wire.Arrange(v=V, kind="send", counterpart="gov-office", day=THURSDAY, until="14:00"),
            "arrangement_within_hours",
        ),
        (
            wire.Arrange(v=V, kind="send", counterpart="gov-office", day=THURSDAY, until="15:30"),
            "arrangement_past",
        ),
        (
            wire.Arrange(
                v=V, kind="send", counterpart="gov-office", day="2026-11-28", until="18:00"
            ),
            "arrangement_not_workday",
        ),
        (
            wire.Arrange(v=V, kind="send", counterpart="gov-office", day="Thursday", until="18:00"),
            "arrangement_invalid",
        ),
    ]
    for command, reason in cases:
        refused = await units["finance"].request(command)
        assert isinstance(refused, wire.Status)
        assert (refused.state, refused.reason) == ("rejected", reason), command


async def test_agreed_and_used_from_the_command_line(
    router: Router, unit_config: UnitConfigWriter, clock: FakeClock, tmp_path: Path
) -> None:
    """§30 as the clerks do it: Finance asks for a late send, the General Office sees the
    proposal and accepts it, sends at 16:00, and is told the document counts for Thursday
    under that arrangement; `status` shows it. The proposal reads in Chinese too."""
    office, finance = str(unit_config("gov-office")), str(unit_config("finance"))
    clock.current = MORNING
    window = ("--day", THURSDAY, "--until", "18:00")
    code, out = await docex(
        "unit", "--config", finance, "arrange", "send", "--from", "gov-office", *window
    )
    assert code == 0, out
    assert "'finance' asks 'gov-office' to send it its documents on 2026-11-26 until 18:00" in out
    arrangement = out.split("arrangement_proposed ")[1].split(":")[0]

    code, out = await docex(
        "unit", "--config", office, "arrange", "list", env={"LANG": "zh_CN.UTF-8"}
    )
    assert code == 0, out
    assert f"已提出约定 {arrangement}" in out
    assert "'finance' 请 'gov-office' 于 2026-11-26 18:00 前向其发送公文（第三十条）" in out
    code, out = await docex("unit", "--config", office, "arrange", "accept", arrangement)
    assert code == 0 and f"arrangement_accepted {arrangement}" in out, out

    clock.current = AFTERNOON
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    code, out = await docex(
        "unit",
        "--config",
        office,
        "send",
        str(document),
        "--to",
        "finance",
        "--copies-all",
        "1",
        "--sealed-by",
        "张三",
        "--title",
        "关于加班的通知",
        "--doc-no",
        "穗府办〔2026〕9号",
    )
    assert code == 0, out
    assert "counts as sent on 2026-11-26" in out
    assert f"dated by the out-of-hours arrangement {arrangement} (§30)" in out
    code, out = await docex("unit", "--config", office, "status", sent_id(out))
    assert code == 0, out
    assert f"finance: sent under the out-of-hours arrangement {arrangement} (§30)" in out

    code, out = await docex("unit", "--config", office, "arrange", "accept", arrangement)
    assert code == 1 and "arrangement_answered" in out, out


async def test_the_sending_side_agrees_with_the_send_role(
    units: dict[str, UnitClient], people: People, clock: FakeClock, router: Router
) -> None:
    """§14, §30: the General Office, asked for a late send, agrees through a person holding
    the send role (发文); one who only receives (收文) is refused, and the ledger names who
    agreed."""
    clock.current = MORNING
    proposal = await propose(units["finance"], "send", "gov-office")
    [arrangement] = proposal.arrangements or []
    reader = await people.add("gov-office", "reader", "收文")
    clerk = await people.add("gov-office", "clerk", "发文")
    async with people.client("gov-office", reader, "reader") as office:
        refused = await answer(office, arrangement)
        assert (refused.state, refused.reason) == ("rejected", "role_missing")
    async with people.client("gov-office", clerk, "clerk") as office:
        assert (await answer(office, arrangement)).state == "arrangement_accepted"
    agreed = router.ledger.arrangement(arrangement)
    assert agreed is not None and (agreed.state, agreed.answered_by) == ("accepted", "clerk")
