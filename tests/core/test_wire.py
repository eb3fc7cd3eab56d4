"""The wire format: strict decoding, and a signing encoding every party recomputes the same."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from docex import wire
from tests.conftest import Pki
from tests.documents import sealed_envelope, submit

AT = "2026-03-02T10:00:00+08:00"


def test_a_submit_survives_the_round_trip(pki: Pki) -> None:
    envelope = sealed_envelope(pki.signing["gov-office"], cc=["education"])
    decoded = wire.decode_command(wire.encode(submit(envelope)))
    assert decoded == submit(envelope)


def test_signing_bytes_cover_every_header_but_not_the_body_or_sender_person(pki: Pki) -> None:
    """§18, §29: the seal binds all headers and the content hash; sending is a separate step."""
    envelope = sealed_envelope(pki.signing["gov-office"])
    base = wire.signing_bytes(envelope)
    assert wire.signing_bytes(msgspec.structs.replace(envelope, sent_by="李四")) == base
    assert wire.signing_bytes(msgspec.structs.replace(envelope, content=b"other")) == base
    for change in (
        {"title": "x"},
        {"doc_no": "x"},
        {"to": ["education"]},
        {"cc": ["education"]},
        {"print_quota": {"finance": 9}},
        {"classification": "internal"},
        {"sha256": bytes(32)},
        {"paper_attachments": ["图纸一套"]},
        {"sealed_by": "x"},
    ):
        assert wire.signing_bytes(msgspec.structs.replace(envelope, **change)) != base, change


@given(st.dictionaries(st.text(max_size=8), st.integers(0, 99), max_size=6))
def test_signing_bytes_do_not_depend_on_map_order(quota: dict[str, int]) -> None:
    envelope = wire.Envelope(
        id="1",
        sender="a",
        to=["b"],
        print_quota=quota,
        title="t",
        doc_no="n",
        format="pdf",
        content=b"",
        sha256=b"",
        created_at="",
        sealed_at="",
        sealed_by="",
    )
    reordered = msgspec.structs.replace(envelope, print_quota=dict(reversed(quota.items())))
    assert wire.signing_bytes(envelope) == wire.signing_bytes(reordered)


# A string of bytes that are not UTF-8, which msgspec reports as Python's UnicodeDecodeError.
NOT_UTF8 = msgspec.msgpack.encode({"v": 1, "t": "status_query", "doc_id": "xx"}).replace(
    b"\xa2xx", b"\xa2\xff\xfe"
)
# Arrays in arrays past msgspec's recursion limit, which it reports as RecursionError.
DEEP = b"\x83\xa1v\x01\xa1t\xa6submit\xa8envelope" + b"\x91" * 100_000 + b"\x90"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "malformed_message"),
        (b"\x81\xa1v", "malformed_message"),
        (msgspec.msgpack.encode({"t": "submit"}), "invalid_message"),
        (msgspec.msgpack.encode({"v": "1", "t": "submit"}), "invalid_message"),
        (msgspec.msgpack.encode({"v": 0, "t": "submit"}), "unsupported_version"),
        (msgspec.msgpack.encode({"v": 1, "t": "deliver"}), "unknown_type"),
        (msgspec.msgpack.encode({"v": 1, "t": "receipt", "doc_id": "d"}), "invalid_message"),
        (
            msgspec.msgpack.encode({"v": 1, "t": "receipt", "doc_id": "d", "kind": "printed"}),
            "invalid_message",
        ),
        (
            msgspec.msgpack.encode({"v": 1, "t": "receipt", "doc_id": "d", "kind": "read", "x": 1}),
            "invalid_message",
        ),
        (NOT_UTF8, "invalid_text"),
        (NOT_UTF8.replace(b"status_query", b"heartbeat\xa0\xa0\xa0"), "invalid_text"),
        (DEEP, "malformed_message"),
    ],
)
def test_bad_commands_get_specific_codes(body: bytes, code: str) -> None:
    with pytest.raises(wire.WireError) as raised:
        wire.decode_command(body)
    assert raised.value.code == code


@given(st.binary(max_size=64))
def test_no_byte_string_escapes_as_anything_but_a_wire_error(body: bytes) -> None:
    try:
        wire.decode_command(body)
    except wire.WireError:
        pass


@pytest.mark.parametrize("body", [NOT_UTF8, DEEP])
def test_what_cannot_be_decoded_is_no_heartbeat(body: bytes) -> None:
    assert wire.decode_heartbeat(body) is None


def test_a_long_wrong_value_is_quoted_short_with_its_place(pki: Pki) -> None:
    fields = msgspec.to_builtins(sealed_envelope(pki.signing["gov-office"]), builtin_types=(bytes,))
    fields["classification"] = "x" * 100_000
    body = msgspec.msgpack.encode({"v": 1, "t": "submit", "envelope": fields})
    with pytest.raises(wire.WireError) as raised:
        wire.decode_command(body)
    assert raised.value.code == "invalid_message"
    assert (
        raised.value.message == f"Invalid enum value '{'x' * 108}… - at `$.envelope.classification`"
    )


def test_an_unknown_type_is_quoted_short() -> None:
    """Whatever the sender wrote, the answer quotes only its start."""
    body = msgspec.msgpack.encode({"v": 1, "t": "x" * 100_000})
    with pytest.raises(wire.WireError) as raised:
        wire.decode_command(body)
    assert raised.value.message == f"unknown message type {'x' * 64 + '…'!r}"


def test_an_unknown_info_kind_has_its_own_reason_code() -> None:
    """§39 lists the kinds of information; another kind is named as such, not as a bad message."""
    body = msgspec.msgpack.encode({"v": wire.VERSION, "t": "info", "kind": "gossip", "title": "t"})
    with pytest.raises(wire.WireError) as raised:
        wire.decode_command(body)
    assert raised.value.code == "unknown_info_kind"


def test_a_delivery_around_an_encoded_envelope_is_the_same_bytes(pki: Pki) -> None:
    """The router encodes a circular's envelope once for all its recipients."""
    envelope = sealed_envelope(pki.signing["gov-office"], to=["finance"], cc=["education"])
    fields = dict(
        print_quota=2,
        attempt=1,
        sent_at="2026-11-30T10:00:00+08:00",
        sent_exchange_date="2026-11-30",
    )
    whole = wire.encode(wire.Deliver(envelope=envelope, role="copy", **fields))
    assert wire.encode_deliver(wire.encode(envelope), role="copy", **fields) == whole
    decoded = wire.decode_router_message(whole)
    assert isinstance(decoded, wire.Deliver) and decoded.envelope == envelope


def test_a_batch_carries_each_message_as_it_would_go_alone() -> None:
    items = [
        wire.Batched(
            f"m{n}", "status", wire.encode(wire.Status(doc_id=f"d{n}", state="accepted", at=""))
        )
        for n in range(3)
    ]
    assert wire.unpack("outer", "batch", wire.encode_batch(items)) == items
    assert wire.unpack("m9", "status", b"\x01") == [wire.Batched("m9", "status", b"\x01")]
    with pytest.raises(wire.WireError):
        wire.unpack("outer", "batch", b"\x01")


class _StatusBefore(msgspec.Struct, tag_field="t", tag="status", forbid_unknown_fields=True):
    """`Status` as a client from before the arrangements (§30, §33) knows it."""

    v: int
    ref: str = ""
    doc_id: str = ""
    state: str = ""
    reason: str = ""
    message: str = ""
    recipient: str = ""
    at: str = ""
    exchange_date: str = ""
    seal: wire.SealStamp | None = None


def test_an_older_client_reads_a_status_without_arrangements_and_checks_its_seal() -> None:
    """§30, §33: the arrangement ids are added to Status only when there are some; a status
    without them decodes strictly in a client that never heard of them, and the exchange's
    seal over it covers the same bytes as before."""
    status = wire.Status(doc_id="d1", state="received", at="t", exchange_date="2026-11-26")
    old = msgspec.msgpack.decode(wire.encode(status), type=_StatusBefore)
    assert (old.doc_id, old.exchange_date) == ("d1", "2026-11-26")
    fields = msgspec.structs.asdict(old)
    del fields["seal"]
    fields["t"] = "status"
    assert wire.signed_bytes(status) == msgspec.msgpack.Encoder(order="sorted").encode(fields)

    under = msgspec.structs.replace(status, arrangements=["a1"])
    assert wire.decode_router_message(wire.encode(under)) == under
    assert wire.signed_bytes(under) != wire.signed_bytes(status)
    with pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(wire.encode(under), type=_StatusBefore)


def test_recipient_states_leave_out_arrangements_they_do_not_have() -> None:
    """§30, §33: `status` answers to older clients keep the fields they know."""
    state = wire.RecipientState(
        recipient="finance",
        role="main",
        state="received",
        print_quota=1,
        printed=0,
        attempt=1,
        delivered_at=None,
        received_at=None,
        received_exchange_date=None,
        attachments_received_at=None,
    )
    assert "sent_arrangement" not in msgspec.msgpack.decode(wire.encode(state))
    under = msgspec.structs.replace(state, received_arrangement="a1")
    assert msgspec.msgpack.decode(wire.encode(under))["received_arrangement"] == "a1"


class _StatusBeforePersons(
    msgspec.Struct, tag_field="t", tag="status", forbid_unknown_fields=True, kw_only=True
):
    """wire.Status as a client from before persons were named (§14) decodes it."""

    v: int
    ref: str = ""
    doc_id: str = ""
    state: str
    reason: str = ""
    message: str = ""
    recipient: str = ""
    at: str
    exchange_date: str = ""
    seal: wire.SealStamp | None = None


class _RecipientBeforePersons(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    recipient: str
    role: wire.Role
    state: str
    print_quota: int
    printed: int
    attempt: int
    delivered_at: str | None
    received_at: str | None
    received_exchange_date: str | None
    attachments_received_at: str | None


class _DocumentStatusBeforePersons(
    msgspec.Struct, tag_field="t", tag="document_status", forbid_unknown_fields=True, kw_only=True
):
    v: int
    ref: str
    doc_id: str
    title: str
    doc_no: str
    sent_at: str
    sent_exchange_date: str
    paper_attachments: list[str]
    recipients: list[_RecipientBeforePersons]


def test_a_status_naming_nobody_still_decodes_in_an_older_client() -> None:
    """§14 changed the wire within version 1: only a status that names a person is one that
    a client from before cannot read; every message still says its version."""
    zhangsan = wire.Person(id="zhangsan", chinese_name="张三")
    status = wire.Status(doc_id="d1", state="received", recipient="finance", at=AT)
    body = wire.encode(status)
    assert msgspec.msgpack.decode(body)["v"] == wire.VERSION
    old = msgspec.msgpack.decode(body, type=_StatusBeforePersons)
    assert (old.v, old.state, old.recipient) == (wire.VERSION, "received", "finance")
    named = wire.encode(msgspec.structs.replace(status, person=zhangsan))
    assert wire.decode_router_message(named) == msgspec.structs.replace(status, person=zhangsan)
    with pytest.raises(msgspec.ValidationError, match="person"):
        msgspec.msgpack.decode(named, type=_StatusBeforePersons)

    recipient = wire.RecipientState(
        recipient="finance", role="main", state="delivered", print_quota=1, printed=0,
        attempt=1, delivered_at=AT, received_at=None, received_exchange_date=None,
        attachments_received_at=None,
    )  # fmt: skip
    document = wire.DocumentStatus(
        ref="m1", doc_id="d1", title="通知", doc_no="〔2026〕1号", sent_at=AT,
        sent_exchange_date="2026-03-02", paper_attachments=[], recipients=[recipient],
    )  # fmt: skip
    body = wire.encode(document)
    assert msgspec.msgpack.decode(body)["v"] == wire.VERSION
    assert msgspec.msgpack.decode(body, type=_DocumentStatusBeforePersons).recipients[0].state == (
        "delivered"
    )
    received = msgspec.structs.replace(recipient, received_by=zhangsan)
    named = wire.encode(msgspec.structs.replace(document, recipients=[received]))
    with pytest.raises(msgspec.ValidationError, match="received_by"):
        msgspec.msgpack.decode(named, type=_DocumentStatusBeforePersons)
    withdrawn = wire.encode(wire.Withdrawn(doc_id="d1", at=AT))
    assert msgspec.msgpack.decode(withdrawn) == {"t": "withdrawn", "v": 1, "doc_id": "d1", "at": AT}
