"""Every bad command gets a specific answer, lands in the dead-letter queue, and harms nothing.

Nothing a unit sends reaches the router's "this is a bug" answer (`internal_error`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
import aiormq
import msgspec
import pytest

from docex import wire
from docex.config import Config
from docex.core.rejection import MESSAGE_MAX
from docex.ids import uuid7
from docex.router.service import Router
from docex.topology import Names
from docex.unit.client import UnitClient
from tests.conftest import Pki, amqp_user
from tests.core.test_wire import DEEP, NOT_UTF8
from tests.documents import PDF, sealed_envelope, submit

encode = msgspec.msgpack.encode


def envelope_fields(pki: Pki, **headers: object) -> dict[str, object]:
    envelope = sealed_envelope(pki.signing["gov-office"], **headers)
    return msgspec.to_builtins(envelope, builtin_types=(bytes,))


def tampered(pki: Pki, **changes: object) -> bytes:
    """A correctly sealed envelope changed afterwards, as by someone on the way."""
    envelope = sealed_envelope(pki.signing["gov-office"])
    return wire.encode(submit(msgspec.structs.replace(envelope, **changes)))


def sealed_by(seal_of: Callable[[Pki], object], **headers: object) -> Callable[[Pki], bytes]:
    return lambda pki: wire.encode(submit(sealed_envelope(seal_of(pki), **headers)))  # type: ignore[arg-type]


def without(field: str) -> Callable[[Pki], bytes]:
    def body(pki: Pki) -> bytes:
        fields = envelope_fields(pki)
        del fields[field]
        return encode({"v": 1, "t": "submit", "envelope": fields})

    return body


def mistyped(pki: Pki) -> bytes:
    return encode({"v": 1, "t": "submit", "envelope": {**envelope_fields(pki), "title": 5}})


def own(**headers: object) -> Callable[[Pki], bytes]:
    return sealed_by(lambda pki: pki.signing["gov-office"], **headers)


def command(**fields: object) -> Callable[[Pki], bytes]:
    return lambda pki: encode({"v": 1, **fields})


def print_asking(copies: int) -> Callable[[Pki], bytes]:
    """A print request refused for its count alone: the count is checked before anything else."""
    return command(t="print_request", doc_id=uuid7(), copies=copies)


def request_due(deadline: str) -> Callable[[Pki], bytes]:
    return command(
        t="info",
        kind="request",
        title="请办理",
        content="请办理",
        to=["finance"],
        deadline=deadline,
    )


def update_for(period: str) -> Callable[[Pki], bytes]:
    return command(t="info", kind="update", title="工作动态", period=period, part="plan")


def stamp(pki: Pki, **changes: object) -> wire.SealStamp:
    seal = sealed_envelope(pki.signing["gov-office"]).seal
    assert seal is not None
    return msgspec.structs.replace(seal, **changes)


CASES: dict[str, tuple[Callable[[Pki], bytes], str, str]] = {
    "malformed msgpack": (lambda pki: b"\xc1\xc1 not msgpack", "malformed_message", "MessagePack"),
    "not a map": (lambda pki: encode([1, 2, 3]), "invalid_message", "header"),
    "wrong version": (lambda pki: encode({"v": 2, "t": "submit"}), "unsupported_version", "2"),
    "unknown type": (lambda pki: encode({"v": 1, "t": "launch"}), "unknown_type", "launch"),
    "missing field": (without("title"), "invalid_message", "title"),
    "mistyped field": (mistyped, "invalid_message", "$.envelope.title"),
    "body over the limit": (own(content=PDF + bytes(300_000)), "too_large", "262144"),
    "message far over the limit": (
        lambda pki: encode({"v": 1, "t": "submit", "pad": bytes(400_000)}),
        "too_large",
        "limit",
    ),
    "format not allowed": (own(format="docx"), "format_not_allowed", "docx"),
    "body is not what it claims": (own(content=b"PK\x03\x04 zip"), "format_mismatch", "PDF"),
    "a Word file labelled CEB §27": (
        own(content=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 doc", format="ceb"),
        "format_mismatch",
        "CEB",
    ),
    "secret document §4": (own(classification="secret"), "excluded_classification", "§4"),
    "top secret document §4": (own(classification="top_secret"), "excluded_classification", "§4"),
    "urgent document §4": (own(urgency="urgent"), "excluded_urgency", "§4"),
    "extra urgent document §4": (own(urgency="extra_urgent"), "excluded_urgency", "§4"),
    "private mail §4": (own(private=True), "excluded_private", "§4"),
    "unknown recipient": (own(to=["nobody"]), "unknown_recipient", "nobody"),
    "revoked recipient §9": (own(to=["archive"]), "recipient_revoked", "archive"),
    "self send": (own(to=["gov-office"]), "self_send", "itself"),
    "no main recipient §31": (own(to=[], cc=["finance"]), "no_recipients", "主送"),
    "recipient twice": (own(to=["finance"], cc=["finance"]), "duplicate_recipient", "finance"),
    "quota for a non-recipient": (own(print_quota={"education": 2}), "invalid_quota", "education"),
    "negative quota": (own(print_quota={"finance": -1}), "invalid_quota", "negative"),
    "envelope names another sender": (
        sealed_by(lambda pki: pki.signing["finance"], sender="finance", to=["education"]),
        "sender_mismatch",
        "finance",
    ),
    "content changed after sealing §18": (
        lambda pki: tampered(pki, content=PDF + b"%changed"),
        "content_hash_mismatch",
        "SHA-256",
    ),
    "content and hash changed after sealing §18": (
        lambda pki: tampered(pki, content=PDF + b"%x", sha256=wire.content_digest(PDF + b"%x")),
        "seal_bad_signature",
        "signature does not match",
    ),
    "title changed after sealing §18": (
        lambda pki: tampered(pki, title="篡改的标题"),
        "seal_bad_signature",
        "signature does not match",
    ),
    "seal from another CA": (sealed_by(lambda pki: pki.foreign_signing), "seal_untrusted", "CA"),
    "seal of another unit": (
        sealed_by(lambda pki: pki.signing["finance"]),
        "seal_wrong_unit",
        "finance",
    ),
    "verification seal used to sign §18": (
        sealed_by(lambda pki: pki.verification["gov-office"]),
        "seal_wrong_kind",
        "verification",
    ),
    "unsealed": (lambda pki: tampered(pki, seal=None), "unsealed", "§18"),
    # Ids become AMQP message ids, file names and ledger keys (docex/ids.py).
    "id of 300 characters": (own(id="a" * 300), "invalid_id", "envelope.id"),
    "id climbing out of a folder": (own(id="../../x"), "invalid_id", "../../x"),
    "absolute path as id": (own(id="/abs"), "invalid_id", "/abs"),
    "id with NUL": (own(id="a\x00b"), "invalid_id", "envelope.id"),
    "empty unit id in cc": (own(cc=[""]), "invalid_id", "envelope.cc[0]"),
    "unit id with a slash": (own(to=["../finance"]), "invalid_id", "envelope.to[0]"),
    "unknown document id of 1 KB": (
        command(t="status_query", doc_id="x" * 1024),
        "invalid_id",
        "…",
    ),
    "unknown information id of 1 KB": (
        command(t="reply", info_id="x" * 1024, content="办结"),
        "invalid_id",
        "info_id",
    ),
    # Counts (§31, §35, §38): bounded by [exchange] max_print_quota, and within SQLite's int64.
    "quota of 50,000,000 §31": (
        own(print_quota={"finance": 50_000_000}),
        "quota_too_large",
        "1000",
    ),
    "print request for 10^8 copies §35": (print_asking(10**8), "invalid_copies", "1000"),
    "print request for no copies §35": (print_asking(0), "invalid_copies", "0"),
    "print request for negative copies §35": (print_asking(-5), "invalid_copies", "-5"),
    "print request beyond int64 §35": (print_asking(2**64 - 1), "invalid_copies", "1000"),
    "copies of 2^70, which MessagePack carries only as a float": (
        command(t="print_request", doc_id=uuid7(), copies=2.0**70),
        "invalid_message",
        "int",
    ),
    "quota grant beyond int64 §38": (
        command(t="quota_grant", doc_id=uuid7(), recipient="finance", copies=2**63),
        "invalid_copies",
        "1000",
    ),
    "quota request for no copies §38": (
        command(t="quota_request", doc_id=uuid7(), copies=0, reason="打印失败"),
        "invalid_copies",
        "0",
    ),
    # Lists: recipients bounded by [exchange] max_recipients, checked in linear time.
    "20,000 recipients §31": (
        own(to=[f"u{n}" for n in range(20_000)]),
        "too_many_recipients",
        "5000",
    ),
    "2,500 units each listed twice §31": (
        own(to=[f"u{n}" for n in range(2_500)], cc=[f"u{n}" for n in range(2_500)]),
        "duplicate_recipient",
        "u0, u1, u10,",
    ),
    "quotas for 6,000 units §31": (
        own(print_quota={f"u{n}": 1 for n in range(6_000)}),
        "too_many_recipients",
        "print_quota",
    ),
    "withdraw naming 50,000 recipients": (
        command(t="withdraw", doc_id=uuid7(), recipients=["a"] * 50_000),
        "too_many_recipients",
        "recipients",
    ),
    "information to 20,000 units": (
        command(t="info", kind="report", title="报告", to=[f"u{n}" for n in range(20_000)]),
        "too_many_recipients",
        "to",
    ),
    "10,000 paper attachments §28": (
        own(paper_attachments=["图纸"] * 10_000),
        "too_many_items",
        "100",
    ),
    # Texts: bounded lengths; single-line fields refuse control characters.
    "title of 100,000 characters": (own(title="长" * 100_000), "text_too_long", "title"),
    "title of 5 MB": (own(title="长" * 1_700_000), "too_large", "limit"),
    "newline in 文号": (own(doc_no="穗府办\n〔2026〕12号"), "invalid_text", "doc_no"),
    "escape sequence in the sender's name": (
        lambda pki: tampered(pki, sent_by="\x1b[2J张三"),
        "invalid_text",
        "sent_by",
    ),
    "NUL in an information title": (
        command(t="info", kind="report", title="报\x00告", to=["finance"]),
        "invalid_text",
        "title",
    ),
    "invalid UTF-8 in a string": (lambda pki: NOT_UTF8, "invalid_text", "UTF-8"),
    "classification of 100 KB is refused in a short answer": (
        lambda pki: encode(
            {
                "v": 1,
                "t": "submit",
                "envelope": {**envelope_fields(pki), "classification": "x" * 100_000},
            }
        ),
        "invalid_message",
        "classification",
    ),
    "message type of 100 KB is refused in a short answer": (
        command(t="t" * 100_000),
        "unknown_type",
        "…",
    ),
    "arrays nested 100,000 deep": (lambda pki: DEEP, "malformed_message", "nested"),
    # Information (§41, §42): odd dates are the sender's mistake, never the router's.
    "request deadline 9999-99-99 §42": (request_due("9999-99-99"), "invalid_deadline", "9999"),
    "request deadline at the end of time, west of UTC §42": (
        request_due("9999-12-31T23:59:59-14:00"),
        "invalid_deadline",
        "9999",
    ),
    "work update for period ../.. §41": (update_for("../.."), "invalid_period", "../.."),
    "work update for the year 0 §41": (update_for("0000"), "invalid_period", "0000"),
    "work update for a year in full-width digits §41": (
        update_for("２０２６"),
        "invalid_period",
        "２０２６",
    ),
    "work update for a year and a newline §41": (update_for("2026\n"), "invalid_text", "period"),
    # Seal stamps: bounded before any cryptography looks at them.
    "seal certificate of 100 KB": (
        lambda pki: tampered(pki, seal=stamp(pki, cert=bytes(100_000))),
        "invalid_seal",
        "cert",
    ),
    "seal signature of the wrong length": (
        lambda pki: tampered(pki, seal=stamp(pki, sig=bytes(65))),
        "invalid_seal",
        "sig",
    ),
}


async def dead_lettered(config: Config, message_id: str) -> aio_pika.abc.AbstractIncomingMessage:
    """Wait until the router has dead-lettered the message with this id."""
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(Names(config.router.prefix).dead_queue, ensure=False)
        found: asyncio.Future[aio_pika.abc.AbstractIncomingMessage] = (
            asyncio.get_running_loop().create_future()
        )

        async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            if message.message_id == message_id and not found.done():
                found.set_result(message)

        await queue.consume(take)
        return await asyncio.wait_for(found, timeout=10)


async def still_serving(client: UnitClient, pki: Pki) -> None:
    """A good document sent next is accepted and reaches its recipient: nothing the bad one
    left behind (an unpublishable delivery, say) holds up the outbox."""
    good = sealed_envelope(pki.signing["gov-office"])
    after = await client.request(submit(good))
    assert isinstance(after, wire.Status) and after.state == "accepted", "router stopped serving"
    await client.wait_for(
        lambda: next((s for s in client.mailbox.statuses(good.id) if s.state == "delivered"), None),
        timeout=10,
    )


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_command_is_answered_and_dead_lettered(
    case: str, units: dict[str, UnitClient], pki: Pki, config: Config
) -> None:
    make_body, code, words = CASES[case]
    client = units["gov-office"]
    message_id = uuid7()
    await client.publish_encoded(make_body(pki), message_id, "submit")
    answer = await client.wait_for(lambda: client.mailbox.answer_to(message_id), timeout=10)

    assert isinstance(answer, wire.Status)
    assert (answer.state, answer.reason) == ("rejected", code), answer.message
    assert words in answer.message
    assert len(answer.message) <= MESSAGE_MAX, "an answer stays small whatever the input"
    dead = await dead_lettered(config, message_id)
    assert dead.user_id == amqp_user(config.router.prefix, "gov-office")
    await still_serving(client, pki)


@pytest.mark.parametrize("message_id", ["m" * 255, "../../x", "a\x00b", "a\nb", "编号1"])
async def test_a_command_with_an_unsafe_message_id_is_refused(
    message_id: str, units: dict[str, UnitClient], pki: Pki, config: Config
) -> None:
    """The message id is kept in the ledger and quoted in answers: it follows the id rule."""
    client = units["gov-office"]
    query = wire.StatusQuery(v=wire.VERSION, doc_id=uuid7())
    await client.publish_encoded(wire.encode(query), message_id, "status_query")

    def refusal() -> wire.Status | None:
        return next(
            (s for s in client.mailbox.statuses() if s.reason == "invalid_message_id"), None
        )

    answer = await client.wait_for(refusal, timeout=10)
    assert (answer.state, answer.ref) == ("rejected", "")
    assert len(answer.message) <= MESSAGE_MAX
    await dead_lettered(config, message_id)
    await still_serving(client, pki)


async def test_no_document_is_recorded_for_a_rejected_submission(
    units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    envelope = sealed_envelope(pki.signing["gov-office"], classification="secret")
    answer = await units["gov-office"].request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "rejected"
    assert router.ledger.document(envelope.id) is None
    assert router.ledger.deliveries(envelope.id) == []


async def test_a_unit_cannot_publish_as_another_unit(
    units: dict[str, UnitClient], pki: Pki, config: Config, router: Router
) -> None:
    """§15, §17: the broker refuses a user_id that is not the connection's own user."""
    connection = await aio_pika.connect(units["gov-office"].settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        inbound = await channel.get_exchange(
            Names(config.router.prefix).inbound("gov-office"), ensure=False
        )
        envelope = sealed_envelope(pki.signing["finance"], sender="finance", to=["education"])
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
            await inbound.publish(
                aio_pika.Message(
                    wire.encode(submit(envelope)),
                    message_id=uuid7(),
                    user_id=amqp_user(config.router.prefix, "finance"),
                ),
                routing_key="",
            )
    await units["gov-office"].request(wire.StatusQuery(v=wire.VERSION, doc_id="marker"))
    assert router.ledger.document(envelope.id) is None


@pytest.mark.parametrize("target", ["finance", "router"])
async def test_a_unit_cannot_write_into_another_intake(
    units: dict[str, UnitClient], config: Config, target: str
) -> None:
    """A unit may write only its own inbound exchange: it can neither fill another unit's
    intake queue (and so take that unit's place in the router's turns) nor reach the old
    shared one."""
    names = Names(config.router.prefix)
    exchange = names.inbound(target) if target != "router" else f"{config.router.prefix}.in"
    connection = await aio_pika.connect(units["gov-office"].settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        inbound = await channel.get_exchange(exchange, ensure=False)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await inbound.publish(
                aio_pika.Message(
                    b"x",
                    message_id=uuid7(),
                    user_id=amqp_user(config.router.prefix, "gov-office"),
                ),
                routing_key="",
            )


async def test_a_unit_cannot_read_another_units_queue(
    units: dict[str, UnitClient], config: Config
) -> None:
    """Each unit reads only its own queue."""
    connection = await aio_pika.connect(units["gov-office"].settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(
            Names(config.router.prefix).unit_queue("finance"), ensure=False
        )
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await queue.get(fail=False)
