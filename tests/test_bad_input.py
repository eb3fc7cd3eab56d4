"""Every bad command gets a specific answer, lands in the dead-letter queue, and harms nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
import aiormq
import msgspec
import pytest

from adapters.amqp.client import UnitClient
from docex import wire
from docex.config import Config
from docex.ids import uuid7
from router.service import Router
from router.topology import Names
from tests.conftest import Pki, amqp_user
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
        "",
    ),
    "title changed after sealing §18": (
        lambda pki: tampered(pki, title="篡改的标题"),
        "seal_bad_signature",
        "",
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


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_submission_is_answered_and_dead_lettered(
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
    dead = await dead_lettered(config, message_id)
    assert dead.user_id == amqp_user(config.router.prefix, "gov-office")

    good = sealed_envelope(pki.signing["gov-office"])
    after = await client.request(submit(good))
    assert isinstance(after, wire.Status) and after.state == "accepted", "router stopped serving"


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
