"""The bounds on what a unit writes (docex/limits.py), as pure functions: no broker, no ledger."""

from __future__ import annotations

import time

import msgspec
import pytest

from docex import limits, wire
from docex.config import ExchangeSettings
from docex.ids import is_safe_id, uuid7
from tests.conftest import Pki
from tests.documents import sealed_envelope, submit

SETTINGS = ExchangeSettings(max_recipients=3, max_print_quota=10)
V = wire.VERSION


def refusal(command: wire.Command, settings: ExchangeSettings = SETTINGS) -> tuple[str, str]:
    with pytest.raises(wire.WireError) as raised:
        limits.check_command(command, settings)
    return raised.value.code, raised.value.message


@pytest.mark.parametrize(
    "value", [uuid7(), "gov-office", "01J9ZQ4Y7X3K8M2N5P6R7S8T9V", "a", "A.b_c-1", "x" * 64]
)
def test_uuids_ulids_and_unit_ids_are_ids(value: str) -> None:
    assert is_safe_id(value)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "../../x", "/abs", ".hidden", "-rf", "a/b", "a\\b", "a\x00b", "a\n", "a b",
     "财政局", "ｆｉｎａｎｃｅ"],
)  # fmt: skip
def test_paths_controls_spaces_and_long_strings_are_not(value: str) -> None:
    assert not is_safe_id(value)


def test_an_invalid_id_is_named_and_quoted_short() -> None:
    code, message = refusal(wire.StatusQuery(v=V, doc_id="x" * 10_000))
    assert code == "invalid_id"
    assert message.startswith(f"doc_id: {'x' * 64 + '…'!r} is not an id: 1–64 letters")


@pytest.mark.parametrize(
    ("text", "multiline", "code"),
    [
        ("关于做好年终工作的通知", False, None),
        ("x" * 20, False, None),
        ("x" * 21, False, "text_too_long"),
        ("第一行\n第二行", False, "invalid_text"),
        ("第一行\n第二行\r\n\t第三行", True, None),
        ("a\x00b", True, "invalid_text"),
        ("\x1b[2J", True, "invalid_text"),
        ("a\x7fb", False, "invalid_text"),
        ("a\x85b", False, "invalid_text"),
        ("a\u2028b", False, "invalid_text"),
    ],
)
def test_texts_are_bounded_and_single_line_ones_have_no_controls(
    text: str, multiline: bool, code: str | None
) -> None:
    if code is None:
        limits.check_text("title", text, 20, multiline=multiline)
        return
    with pytest.raises(wire.WireError) as raised:
        limits.check_text("title", text, 20, multiline=multiline)
    assert raised.value.code == code and raised.value.message.startswith("title: ")


def test_lists_of_units_are_bounded_by_the_setting() -> None:
    assert refusal(wire.Withdraw(v=V, doc_id="d", recipients=["a", "b", "c", "d"]))[0] == (
        "too_many_recipients"
    )
    limits.check_command(wire.Withdraw(v=V, doc_id="d", recipients=["a", "b", "c"]), SETTINGS)
    code, message = refusal(wire.Withdraw(v=V, doc_id="d", recipients=["a", "../b"]))
    assert (code, message[:15]) == ("invalid_id", "recipients[1]: ")


def test_recipients_count_main_and_copy_together(pki: Pki) -> None:
    """§31: the limit is on the units a document goes to, 主送 and 抄送 alike."""
    envelope = sealed_envelope(pki.signing["gov-office"], to=["a", "b"], cc=["c", "d"])
    code, message = refusal(submit(envelope))
    assert code == "too_many_recipients" and "envelope.to and envelope.cc: 4 units" in message


@pytest.mark.parametrize(
    ("quota", "code"),
    [(10, None), (0, None), (11, "quota_too_large"), (2**64 - 1, "quota_too_large"),
     (-1, "invalid_quota")],
)  # fmt: skip
def test_a_print_quota_is_bounded_by_the_setting(pki: Pki, quota: int, code: str | None) -> None:
    """§31: the sender sets each recipient's quota, up to [exchange] max_print_quota."""
    envelope = submit(sealed_envelope(pki.signing["gov-office"], print_quota={"finance": quota}))
    if code is None:
        limits.check_command(envelope, SETTINGS)
    else:
        assert refusal(envelope)[0] == code


@pytest.mark.parametrize("copies", [0, -1, 11, 2**63, 2**64 - 1])
def test_copies_asked_for_or_granted_are_1_to_the_maximum(copies: int) -> None:
    """§35, §38: at least one copy, at most a whole quota, and always within SQLite's int64."""
    for command in (
        wire.PrintRequest(v=V, doc_id="d", copies=copies),
        wire.QuotaRequest(v=V, doc_id="d", copies=copies, reason="打印失败"),
        wire.QuotaGrant(v=V, doc_id="d", recipient="finance", copies=copies),
    ):
        code, message = refusal(command)
        assert code == "invalid_copies" and f"{copies} copies; it takes 1 to 10" in message


def test_a_quota_after_a_grant_stays_within_the_maximum() -> None:
    """§38: extra copies cannot lift a quota past what the sender could have set at once."""
    limits.check_total_quota("quota", 10, SETTINGS)
    with pytest.raises(wire.WireError) as raised:
        limits.check_total_quota("quota", 11, SETTINGS)
    assert raised.value.code == "quota_too_large"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"serial": "not hex"}, "serial"),
        ({"serial": "a" * 65}, "serial"),
        ({"cert": bytes(4097)}, "cert"),
        ({"sig": bytes(63)}, "sig"),
        ({"sig": bytes(65)}, "sig"),
    ],
)
def test_seal_stamps_are_bounded_before_any_cryptography(
    pki: Pki, change: dict[str, object], field: str
) -> None:
    envelope = sealed_envelope(pki.signing["gov-office"])
    assert envelope.seal is not None
    stamped = msgspec.structs.replace(
        envelope, seal=msgspec.structs.replace(envelope.seal, **change)
    )
    code, message = refusal(submit(stamped))
    assert code == "invalid_seal" and message.startswith(f"envelope.seal.{field}: ")


def test_a_real_seal_is_within_bounds(pki: Pki) -> None:
    limits.check_command(submit(sealed_envelope(pki.signing["gov-office"])), SETTINGS)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"paper_attachments": ["图纸"] * 101}, "too_many_items", "envelope.paper_attachments"),
        ({"paper_attachments": ["图" * 201]}, "text_too_long", "envelope.paper_attachments[0]"),
        ({"doc_no": "穗府办\n〔2026〕12号"}, "invalid_text", "envelope.doc_no"),
        ({"title": "长" * 201}, "text_too_long", "envelope.title"),
        ({"sent_by": "张三\x1b"}, "invalid_text", "envelope.sent_by"),
        ({"format": "p" * 65}, "text_too_long", "envelope.format"),
        ({"id": "../x"}, "invalid_id", "envelope.id"),
        ({"sender": ""}, "invalid_id", "envelope.sender"),
    ],
)
def test_every_envelope_field_has_its_bound(
    pki: Pki, fields: dict[str, object], code: str, field: str
) -> None:
    envelope = msgspec.structs.replace(sealed_envelope(pki.signing["gov-office"]), **fields)
    got, message = refusal(submit(envelope))
    assert (got, message.split(": ")[0]) == (code, field)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"title": "x\ny"}, "invalid_text", "title"),
        ({"content": "x" * 100_001}, "text_too_long", "content"),
        ({"deadline": "9" * 65}, "text_too_long", "deadline"),
        ({"period": "2026\x00"}, "invalid_text", "period"),
        ({"issue": "第3期\r"}, "invalid_text", "issue"),
        ({"reader_group": "g" * 65}, "text_too_long", "reader_group"),
        ({"to": ["a", "b", "c", "d"]}, "too_many_recipients", "to"),
        ({"readers": ["a/b"]}, "invalid_id", "readers[0]"),
        ({"co_units": [""]}, "invalid_id", "co_units[0]"),
        ({"authors": ["李"] * 101}, "too_many_items", "authors"),
        ({"authors": ["李" * 65]}, "text_too_long", "authors[0]"),
    ],
)
def test_every_information_field_has_its_bound(
    fields: dict[str, object], code: str, field: str
) -> None:
    """§39–§45: information carries no seal, and the same bounds as a document."""
    info = msgspec.convert({"v": V, "kind": "report", "title": "报告", **fields}, wire.Info)
    got, message = refusal(info)
    assert (got, message.split(": ")[0]) == (code, field)


@pytest.mark.parametrize(
    "command",
    [
        wire.Return(v=V, doc_id="d", reason="x" * 2_001),
        wire.ResendRequest(v=V, doc_id="d", reason="x" * 2_001),
        wire.QuotaRequest(v=V, doc_id="d", copies=1, reason="x" * 2_001),
        wire.Reply(v=V, info_id="i", content="x" * 100_001),
    ],
)
def test_reasons_and_replies_are_bounded(command: wire.Command) -> None:
    assert refusal(command)[0] == "text_too_long"


def test_the_checks_are_linear_in_the_input(pki: Pki) -> None:
    """A list at the limit is checked in a few milliseconds; quadratic work would take seconds."""
    settings = ExchangeSettings(max_recipients=50_000)
    envelope = sealed_envelope(
        pki.signing["gov-office"],
        to=[f"u{n}" for n in range(25_000)],
        cc=[f"c{n}" for n in range(25_000)],
        print_quota={f"u{n}": 1 for n in range(25_000)},
    )
    started = time.perf_counter()
    limits.check_command(submit(envelope), settings)
    assert time.perf_counter() - started < 1.0
