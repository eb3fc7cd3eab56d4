"""Information exchange (§39–§45): each kind end to end through the real router and broker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from docex import wire
from docex.ids import uuid7
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock

V = wire.VERSION


async def accepted(client: UnitClient, command: wire.Command) -> str:
    """Send; the one answer is `accepted` and names the item. Returns its id."""
    message_id = uuid7()
    answer = await client.request(command, message_id=message_id)
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    assert client.mailbox.answer_count(message_id) == 1
    return answer.doc_id


async def rejected(client: UnitClient, command: wire.Command | bytes) -> str:
    """Send; the one answer is a rejection. Returns its reason code."""
    message_id = uuid7()
    if isinstance(command, bytes):
        await client.publish_encoded(command, message_id, "info")
    else:
        await client.publish(command, message_id)
    answer = await client.wait_for(lambda: client.mailbox.answer_to(message_id), 30)
    assert isinstance(answer, wire.Status) and answer.state == "rejected", answer
    return answer.reason


async def received(client: UnitClient, info_id: str) -> wire.InfoItem:
    def find() -> wire.InfoItem | None:
        return next(
            (
                item
                for item in client.mailbox.information()
                if isinstance(item, wire.InfoItem) and item.id == info_id
            ),
            None,
        )

    return await client.wait_for(find, 30)


async def notices(client: UnitClient, count: int) -> list[wire.InfoNotice]:
    def found() -> list[wire.InfoNotice] | None:
        got = [n for n in client.mailbox.information() if isinstance(n, wire.InfoNotice)]
        return got if len(got) >= count else None

    return await client.wait_for(found, 30)


def request(to: list[str], deadline: str = "", **fields: Any) -> wire.Info:
    return wire.Info(
        v=V,
        kind="request",
        title="协助提供数据",
        content="请提供2026年预算执行数据",
        to=to,
        deadline=deadline,
        **fields,
    )


def in_hours(clock: FakeClock, hours: float) -> str:
    return (clock.now() + timedelta(hours=hours)).isoformat()


async def test_a_request_is_delivered_and_its_reply_comes_back(
    units: dict[str, UnitClient], clock: FakeClock
) -> None:
    """§42: the request states what to do and a deadline; the handler replies to the requester.
    §40: unsealed, each item names the unit that sent it, as its broker login proves: who
    exchanges it answers for it."""
    info_id = await accepted(units["finance"], request(["education"], in_hours(clock, 48)))
    item = await received(units["education"], info_id)
    assert (item.kind, item.sender, item.content) == (
        "request",
        "finance",
        "请提供2026年预算执行数据",
    )
    assert item.deadline.endswith("+08:00")

    reply = wire.Reply(v=V, info_id=info_id, content="数据见附表")
    assert await accepted(units["education"], reply) == info_id
    back = await units["finance"].wait_for(
        lambda: next(
            (
                i
                for i in units["finance"].mailbox.information()
                if isinstance(i, wire.InfoItem) and i.in_reply_to == info_id
            ),
            None,
        ),
        30,
    )
    assert (back.kind, back.sender, back.content, back.delay) == (
        "reply",
        "education",
        "数据见附表",
        False,
    )
    assert await rejected(units["education"], reply) == "already_replied"


async def test_bad_requests_and_replies_get_their_own_reasons(
    units: dict[str, UnitClient], clock: FakeClock
) -> None:
    """§42: a deadline already past, a reply from a unit the request was not sent to."""
    finance = units["finance"]
    assert await rejected(finance, request(["education"], in_hours(clock, -1))) == "deadline_passed"
    assert await rejected(finance, request(["education"], "next friday")) == "invalid_deadline"
    assert await rejected(finance, request(["nobody"])) == "unknown_unit"
    assert await rejected(finance, request(["archive"])) == "recipient_revoked"
    info_id = await accepted(finance, request(["education"]))
    stranger = wire.Reply(v=V, info_id=info_id, content="不是我们的事")
    assert await rejected(units["gov-office"], stranger) == "not_addressed_to_you"


async def test_an_unknown_kind_has_its_own_reason(units: dict[str, UnitClient]) -> None:
    """§39: the kinds of information are listed; anything else is refused by name."""
    body = msgspec.msgpack.encode({"v": V, "t": "info", "kind": "gossip", "title": "闲谈"})
    assert await rejected(units["finance"], body) == "unknown_info_kind"


async def test_a_request_going_overdue_is_flagged_to_both_sides_and_counted(
    router: Router, units: dict[str, UnitClient], clock: FakeClock
) -> None:
    """§42: no reply and no explained delay by the deadline: both sides are told, once. A reply
    that comes after the deadline, before the watch looked, was still late."""
    info_id = await accepted(units["finance"], request(["education"], in_hours(clock, 2)))
    replied_late = await accepted(units["finance"], request(["gov-office"], in_hours(clock, 2)))
    explained = await accepted(units["finance"], request(["education"], in_hours(clock, 2)))
    delay = wire.Reply(v=V, info_id=explained, content="需要跨部门协调，下周完成", delay=True)
    assert await accepted(units["education"], delay) == explained

    clock.current += timedelta(hours=1)
    router.infowatch.check()
    clock.current += timedelta(hours=2)
    late_delay = wire.Reply(v=V, info_id=info_id, content="来不及", delay=True)
    assert await rejected(units["education"], late_delay) == "deadline_passed"
    reply = wire.Reply(v=V, info_id=replied_late, content="已办")
    assert await accepted(units["gov-office"], reply) == replied_late
    router.infowatch.check()
    router.infowatch.check()

    for unit in ("finance", "education"):
        notice = (await notices(units[unit], 1))[0]
        assert (notice.kind, notice.subject) == ("overdue", info_id)
    (late,) = await notices(units["gov-office"], 1)
    assert (late.subject, late.text.endswith("回复晚于时限")) == (replied_late, True)
    assert len(await notices(units["finance"], 2)) == 2
    assert _sample(router, "docex_requests_overdue_total") == 2


async def test_work_updates_go_to_the_office(units: dict[str, UnitClient]) -> None:
    """§41: filed in the work-updates column, which the General Office reads."""
    update = wire.Info(v=V, kind="update", title="2026年3月工作动态", period="2026-03", part="plan")
    info_id = await accepted(units["finance"], update)
    item = await received(units["gov-office"], info_id)
    assert (item.period, item.part, item.sender) == ("2026-03", "plan", "finance")
    bad = msgspec.structs.replace(update, period="March")
    assert await rejected(units["finance"], bad) == "invalid_period"
    partless = msgspec.structs.replace(update, part="")
    assert await rejected(units["finance"], partless) == "invalid_part"


async def test_government_information_is_marked_and_adopted_by_the_office(
    router: Router, units: dict[str, UnitClient]
) -> None:
    """§44: joint submitters and authors are named; a revision or solicited piece says so in
    its title; only the office marks a piece adopted."""
    piece = wire.Info(
        v=V,
        kind="gov_info",
        title="我市教育经费保障情况",
        content="……",
        co_units=["education"],
        authors=["张三", "李四"],
        revision=True,
        solicited=True,
    )
    info_id = await accepted(units["finance"], piece)
    item = await received(units["gov-office"], info_id)
    assert item.title == "【修改稿】【约稿】我市教育经费保障情况"
    assert (item.co_units, item.authors) == (["education"], ["张三", "李四"])
    marked = msgspec.structs.replace(piece, title="【修改稿】已标注的标题", solicited=False)
    again = await received(units["gov-office"], await accepted(units["finance"], marked))
    assert again.title == "【修改稿】已标注的标题"

    adopt = wire.Adopt(v=V, info_id=info_id)
    assert await rejected(units["finance"], adopt) == "not_office"
    assert await accepted(units["gov-office"], adopt) == info_id
    assert await rejected(units["gov-office"], adopt) == "already_adopted"
    for unit in ("finance", "education"):
        news = await units[unit].wait_for(
            lambda u=unit: next(
                (s for s in units[u].mailbox.statuses(info_id) if s.state == "adopted"), None
            ),
            30,
        )
        assert news.doc_id == info_id

    joint = msgspec.structs.replace(piece, co_units=["nobody"])
    assert await rejected(units["finance"], joint) == "unknown_unit"
    anonymous = msgspec.structs.replace(piece, authors=[])
    assert await rejected(units["finance"], anonymous) == "missing_authors"


async def test_special_reports_go_to_the_named_superiors(units: dict[str, UnitClient]) -> None:
    """§43: the reporting unit decides what, when and to whom."""
    report = wire.Info(v=V, kind="report", title="专题：汛期安全", content="……", to=["gov-office"])
    info_id = await accepted(units["education"], report)
    assert (await received(units["gov-office"], info_id)).kind == "report"


async def test_periodicals_reach_their_reader_scope(units: dict[str, UnitClient]) -> None:
    """§45: the publisher sets the readers, by unit or by a configured group; a revoked unit
    cannot be a reader."""
    issue = wire.Info(
        v=V, kind="periodical", title="财政简报", issue="2026年第11期", reader_group="all"
    )
    info_id = await accepted(units["finance"], issue)
    for reader in ("gov-office", "education"):
        assert (await received(units[reader], info_id)).issue == "2026年第11期"
    revoked = msgspec.structs.replace(issue, reader_group="", readers=["archive"])
    assert await rejected(units["finance"], revoked) == "recipient_revoked"
    unknown = msgspec.structs.replace(issue, reader_group="nobody")
    assert await rejected(units["finance"], unknown) == "unknown_reader_group"


def _sample(router: Router, name: str) -> float:
    value = router.metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


async def test_the_exclusions_of_section_4_hold_for_information_too(
    units: dict[str, UnitClient], router: Router
) -> None:
    """§4: secret or higher, urgent or extra urgent, and private information is not exchanged,
    refused with the same reasons as documents, and reaches no one; internal information is."""
    report = wire.Info(v=V, kind="report", title="专题：汛期安全", content="……", to=["gov-office"])
    for flags, reason in [
        ({"classification": "secret"}, "excluded_classification"),
        ({"classification": "confidential"}, "excluded_classification"),
        ({"classification": "top_secret"}, "excluded_classification"),
        ({"urgency": "urgent"}, "excluded_urgency"),
        ({"urgency": "extra_urgent"}, "excluded_urgency"),
        ({"private": True}, "excluded_private"),
    ]:
        excluded = msgspec.structs.replace(report, **flags)
        assert await rejected(units["education"], excluded) == reason, flags
    info_id = await accepted(
        units["education"], msgspec.structs.replace(report, classification="internal")
    )
    item = await received(units["gov-office"], info_id)
    assert item.classification == "internal"
    assert [i.id for i in units["gov-office"].mailbox.information()] == [info_id]
