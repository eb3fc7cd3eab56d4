"""Whatever decodable command a unit sends, the exchange answers it once, with a reason of its
own: never the router's "this is a bug" answer (`internal_error`), never an exception, and
nothing in the outbox that the broker could not take.

Driven through `CommandHandler.handle` as docex/router/service.py calls it, with a real ledger
file and real seals but no broker, so Hypothesis can try sixty commands of each type in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, get_args

import msgspec
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from docex import wire
from docex.config import ExchangeSettings, load_config
from docex.core.rejection import MESSAGE_MAX
from docex.ids import is_safe_id, uuid7
from docex.ledger.sqlite import SqliteLedger
from docex.router.handler import CommandHandler, Inbound, Verdict
from docex.router.metrics import Metrics
from docex.router.reload import compare
from docex.seals.seal import Seal
from docex.seals.verify import SealVerifier
from tests.conftest import (
    REVOKED_UNIT,
    UNITS,
    WORKDAY_MORNING,
    FakeClock,
    Pki,
    amqp_user,
    write_router_config,
)
from tests.documents import PDF, sealed_envelope, submit

V = wire.VERSION
# AMQP carries a message id as a short string: what the outbox cannot publish, stalls it.
AMQP_SHORTSTR = 255


@dataclass
class Desk:
    """An exchange as the router runs it, and what the commands below refer to."""

    handler: CommandHandler
    ledger: SqliteLedger
    pki: Pki
    prefix: str
    # Sent by the General Office to Finance (main) and Education (copy), quota 3 and 1.
    document: str = ""
    # A request (§42) from Finance to Education, and a piece of government information (§44).
    request: str = ""
    gov_info: str = ""
    read_up_to: int = 0
    # Proposed by Finance to the General Office: a late send on the morning's day (§30).
    arrangement: str = ""

    def handle(self, unit: str, body: bytes, message_id: str) -> list[wire.RouterMessage]:
        """Apply one command as docex/router/service.py does; what it put in the outbox, decoded."""
        inbound = Inbound(message_id, amqp_user(self.prefix, unit), body)
        with self.ledger.transaction(durable=False), self.ledger.savepoint():
            verdict = self.handler.handle(inbound)
        assert verdict in (Verdict.ACK, Verdict.DEAD)
        everything = self.ledger.outbox_batch(1_000_000)
        rows = [row for row in everything if row.seq > self.read_up_to]
        self.read_up_to = rows[-1].seq if rows else self.read_up_to
        published = []
        for row in rows:
            assert len(row.message_id.encode()) <= AMQP_SHORTSTR, row.message_id
            rendered = self.handler.render(row)
            if rendered is not None:
                published.append(wire.decode_router_message(rendered))
        return published

    def answers(self, unit: str, body: bytes, message_id: str) -> list[wire.Answer]:
        return [
            message
            for message in self.handle(unit, body, message_id)
            if isinstance(message, wire.Answer) and getattr(message, "ref", None) == message_id
        ]

    def accepted(self, unit: str, command: wire.Command) -> str:
        [answer] = self.answers(unit, wire.encode(command), uuid7())
        assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
        return answer.doc_id


def handler_for(config_path: Path, pki: Pki) -> tuple[CommandHandler, SqliteLedger]:
    """Built as docex/router/service.py builds it; Metrics keeps its own registry, so it can be
    built again and again in one process."""
    config = load_config(config_path)
    ledger = SqliteLedger(Path(config.router.ledger), checkpoints=False)
    verifier = SealVerifier.from_files(pki.ca_certificate)
    clock = FakeClock(WORKDAY_MORNING)
    return CommandHandler(ledger, config, verifier, pki.exchange, clock, Metrics(ledger)), ledger


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, pki: Pki, prefix: str) -> Iterator[Desk]:
    directory = tmp_path_factory.mktemp("any-command")
    config_path = write_router_config(
        directory / "router.toml", prefix, pki, directory / "ledger.sqlite"
    )
    handler, ledger = handler_for(config_path, pki)
    desk = Desk(handler, ledger, pki, prefix)
    envelope = sealed_envelope(
        pki.signing["gov-office"],
        to=["finance"],
        cc=["education"],
        print_quota={"finance": 3, "education": 1},
        paper_attachments=["图纸一套"],
    )
    desk.document = desk.accepted("gov-office", submit(envelope))
    desk.request = desk.accepted(
        "finance",
        wire.Info(v=V, kind="request", title="请办理", content="请核对", to=["education"]),
    )
    desk.gov_info = desk.accepted(
        "finance", wire.Info(v=V, kind="gov_info", title="信息", content="内容")
    )
    proposal = wire.Arrange(
        v=V, kind="send", counterpart="gov-office", day="2026-11-26", until="18:00"
    )
    [answer] = desk.answers("finance", wire.encode(proposal), uuid7())
    assert isinstance(answer, wire.Status) and answer.state == "arrangement_proposed", answer
    desk.arrangement = answer.arrangements[0]
    yield desk
    ledger.close()


SENDERS = [*UNITS, REVOKED_UNIT]
T = TypeVar("T")


def mostly(expected: st.SearchStrategy[T], other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """`expected` about half the time, so that commands get past the first check often enough
    to reach the later ones. (Nested `one_of`s are flattened: they cannot weigh choices.)"""
    return st.booleans().flatmap(lambda expect: expected if expect else other)


@st.composite
def changes(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[object]]) -> dict[str, object]:
    """Up to three of `fields`, drawn anew: a good command changed a little."""
    names = draw(st.sets(st.sampled_from(sorted(fields)), max_size=3))
    return {name: draw(fields[name]) for name in sorted(names)}


units = mostly(
    st.sampled_from(list(UNITS)),
    st.one_of(st.sampled_from([REVOKED_UNIT, "nobody", "u" * 65]), st.text(max_size=12)),
)
unit_lists = st.one_of(
    st.lists(units, max_size=6),
    st.builds(lambda n: [f"u{i}" for i in range(n)], st.integers(0, 6_000)),
)
texts = mostly(
    st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=40),
    st.one_of(st.text(max_size=40), st.sampled_from(["", "a\nb", "x" * 3_000])),
)
# Fields with a format of their own: what is expected, else what once broke the router.
periods = mostly(
    st.sampled_from(["2026", "2026-03"]),
    st.sampled_from(["0000", "0000-01", "２０２６", "2026\n", "../..", "2026-13"]),
)
deadlines = mostly(
    st.sampled_from(["", "2026-12-01T10:00:00+08:00"]),
    st.sampled_from(
        [
            *("9999-12-31T23:59:59-14:00", "0001-01-01T00:00+14:00", "9999-99-99"),
            *("2026-11-26T10:00:00", "2020-01-01T00:00:00+08:00"),
        ]
    ),
)
counts = mostly(
    st.integers(-3, 5),
    st.one_of(
        st.integers(-(2**63), 2**64 - 1), st.sampled_from([999, 1000, 1001, 2**63 - 1, 2**63])
    ),
)


def ids(*known: str) -> st.SearchStrategy[str]:
    """Ids of what exists, of what does not, and of what no id may be."""
    return mostly(
        st.sampled_from(known),
        st.one_of(
            st.sampled_from(SENDERS),
            st.builds(uuid7),
            st.text(max_size=70),
            st.sampled_from(["", "x" * 300, "../../x", "/abs", "a\x00b", "a\nb"]),
        ),
    )


ENVELOPE_FIELDS: dict[str, st.SearchStrategy[object]] = {
    "sender": units,
    "to": unit_lists,
    "cc": unit_lists,
    "print_quota": st.dictionaries(units, counts, max_size=4),
    "title": texts,
    "doc_no": texts,
    "classification": st.sampled_from(["internal", "secret"]),
    "urgency": st.sampled_from(["urgent", "extra_urgent"]),
    "private": st.just(True),
    "format": st.one_of(st.sampled_from(["ofd", "docx"]), texts),
    "content": st.sampled_from([b"", b"PK\x03\x04 zip", PDF + bytes(300_000)]),
    "sha256": st.sampled_from([b"", bytes(32)]),
    "paper_attachments": st.lists(texts, max_size=3),
    "created_at": texts,
    "sealed_at": texts,
    "sealed_by": texts,
    "sent_by": texts,
}
INFO_FIELDS: dict[str, st.SearchStrategy[object]] = {
    "title": texts,
    "content": texts,
    "to": unit_lists,
    "co_units": unit_lists,
    "authors": st.lists(texts, max_size=3),
    "revision": st.booleans(),
    "solicited": st.booleans(),
    "readers": unit_lists,
    "issue": texts,
}


@st.composite
def envelopes(draw: st.DrawFn, desk: Desk, sender: str) -> wire.Envelope:
    """A good envelope from `sender`, a little changed, not sealed yet."""
    recipient = "education" if sender == "finance" else "finance"
    envelope = sealed_envelope(
        desk.pki.signing["gov-office"], sender=sender, to=[recipient], print_quota={recipient: 2}
    )
    identity = draw(st.one_of(st.builds(uuid7), ids(desk.document)))
    return msgspec.structs.replace(
        envelope, id=identity, seal=None, **draw(changes(ENVELOPE_FIELDS))
    )


@st.composite
def infos(draw: st.DrawFn) -> dict[str, object]:
    """Good information of any kind (§41–§45), a little changed."""
    good = {
        "kind": draw(st.sampled_from(wire.INFO_KINDS)),
        "title": "关于报送材料的通知",
        "content": "请于月底前报送。",
        "to": ["education"],
        "deadline": draw(deadlines),
        "period": draw(periods),
        "part": draw(mostly(st.sampled_from(wire.UPDATE_PARTS), texts)),
        "readers": ["education"],
        "reader_group": draw(mostly(st.sampled_from(["", "all"]), texts)),
    }
    return {**good, **draw(changes(INFO_FIELDS))}


def fields_of(t: str, desk: Desk) -> st.SearchStrategy[dict[str, object]]:
    """Well-typed fields for a command of type `t`, with any values."""
    if t == "info":
        return infos()
    doc_id, info_id = ids(desk.document), ids(desk.request, desk.gov_info)
    fields: dict[str, dict[str, st.SearchStrategy[object]]] = {
        "receipt": {"doc_id": doc_id, "kind": st.sampled_from(["read", "downloaded"])},
        "status_query": {"doc_id": doc_id},
        "print_request": {"doc_id": doc_id, "copies": counts},
        "return": {"doc_id": doc_id, "reason": texts},
        "resend_request": {"doc_id": doc_id, "reason": texts},
        "resend": {"doc_id": doc_id, "recipient": units},
        "quota_request": {"doc_id": doc_id, "copies": counts, "reason": texts},
        "quota_grant": {"doc_id": doc_id, "recipient": units, "copies": counts},
        "withdraw": {"doc_id": doc_id, "recipients": unit_lists},
        "attachments_received": {"doc_id": doc_id},
        "heartbeat": {},
        "units_query": {},
        "reply": {"info_id": info_id, "content": texts, "delay": st.booleans()},
        "adopt": {"info_id": info_id},
        "arrange": {
            "kind": st.sampled_from(["send", "receive"]),
            "counterpart": units,
            "day": st.one_of(st.sampled_from(["2026-11-26", "2026-11-28", "2025-01-02"]), texts),
            "until": st.one_of(st.sampled_from(["18:00", "14:00", "24:00"]), texts),
            "doc_no": texts,
        },
        "arrange_answer": {"arrangement": ids(desk.arrangement), "accept": st.booleans()},
    }
    return st.fixed_dictionaries(fields[t])


COMMAND_TYPES = [str(command.__struct_config__.tag) for command in get_args(wire.Command)]


def stamp_of(seal: Seal, signed: bytes) -> wire.SealStamp:
    return wire.SealStamp(
        serial=seal.serial, alg="ed25519", cert=seal.certificate_der, sig=seal.sign(signed)
    )


@st.composite
def commands(draw: st.DrawFn, desk: Desk, t: str) -> tuple[str, bytes, str]:
    """(sending unit, body, message id): the body well typed, its values anything; sealed
    with the sender's real seal where the command carries one, or left unsealed."""
    # One command in ten from the revoked unit, one in ten under an id that is no id; else a
    # fresh id each time (a repeated one is a retry, and answered once).
    unit = draw(st.sampled_from([*UNITS] * 3 + [REVOKED_UNIT]))
    if draw(st.integers(0, 9)):
        message_id = uuid7()
    else:
        message_id = draw(st.text(max_size=80).filter(lambda text: not is_safe_id(text)))
    sealed = draw(st.booleans())
    if t == "submit":
        envelope = draw(envelopes(desk, unit))
        if sealed:
            seal = desk.pki.signing.get(unit, desk.pki.foreign_signing)
            stamp = stamp_of(seal, wire.signing_bytes(envelope))
            envelope = msgspec.structs.replace(envelope, seal=stamp)
        return unit, wire.encode(submit(envelope)), message_id
    fields = draw(fields_of(t, desk))
    if t == "print_request" and sealed:
        seal = desk.pki.verification.get(unit, desk.pki.exchange)
        request = msgspec.convert({"v": V, **fields}, wire.PrintRequest)
        stamp = stamp_of(seal, wire.print_request_bytes(request, unit, message_id))
        fields["seal"] = msgspec.to_builtins(stamp, builtin_types=(bytes,))
    return unit, msgspec.msgpack.encode({"v": V, "t": t, **fields}), message_id


@pytest.mark.parametrize("t", COMMAND_TYPES)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_command_gets_one_answer_and_never_internal_error(
    desk: Desk, t: str, data: st.DataObject
) -> None:
    unit, body, message_id = data.draw(commands(desk, t))
    published = desk.handle(unit, body, message_id)

    if wire.decode_heartbeat(body) is not None:
        assert published == [], "a heartbeat is never answered"
        return
    statuses = [m for m in published if isinstance(m, wire.Status) and m.reason]
    assert all(s.reason != "internal_error" for s in statuses), statuses
    assert all(len(s.message) <= MESSAGE_MAX for s in statuses)
    if not is_safe_id(message_id):
        [refusal] = statuses
        assert refusal.reason in ("missing_message_id", "invalid_message_id")
        assert refusal.ref == ""
        return
    answers = [m for m in published if getattr(m, "ref", None) == message_id]
    assert len(answers) == 1, published


def test_a_circular_to_as_many_units_as_allowed_is_accepted_in_linear_time(
    tmp_path: Path, pki: Pki, prefix: str
) -> None:
    """§31: a circular to every unit of a large exchange, each with a print quota, passes the
    limits, and its checks are linear in the recipients. (Checked quadratically, with
    `list.count` and a scan of the units for each recipient, this took 1.2–1.6 s, not 0.2.)"""
    config_path = write_router_config(tmp_path / "router.toml", prefix, pki, tmp_path / "l.sqlite")
    everyone = [f"u{n}" for n in range(ExchangeSettings().max_recipients)]
    with config_path.open("a") as config:
        for unit in everyone:
            config.write(f'[[units]]\nid = "{unit}"\nname = "单位"\namqp_user = "user-{unit}"\n')
    handler, ledger = handler_for(config_path, pki)
    half = len(everyone) // 2
    envelope = sealed_envelope(
        pki.signing["gov-office"],
        to=everyone[:half],
        cc=everyone[half:],
        print_quota=dict.fromkeys(everyone, 1),
    )
    inbound = Inbound(uuid7(), amqp_user(prefix, "gov-office"), wire.encode(submit(envelope)))

    started = time.perf_counter()
    with ledger.transaction(durable=False):
        verdict = handler.handle(inbound)
    assert time.perf_counter() - started < 0.6
    assert verdict is Verdict.ACK
    assert len(ledger.deliveries(envelope.id)) == len(everyone)
    ledger.close()


def test_reloaded_bounds_apply_to_the_next_command(desk: Desk) -> None:
    """§31, §38: an operator who lowers max_print_quota and reloads bounds the next grant."""
    envelope = sealed_envelope(desk.pki.signing["gov-office"], print_quota={"finance": 3})
    desk.accepted("gov-office", submit(envelope))
    old = desk.handler.config
    lowered = msgspec.structs.replace(
        old, exchange=msgspec.structs.replace(old.exchange, max_print_quota=3)
    )
    desk.handler.reconfigure(lowered, compare(old, lowered))
    try:
        grant = wire.QuotaGrant(v=V, doc_id=envelope.id, recipient="finance", copies=1)
        [answer] = desk.answers("gov-office", wire.encode(grant), uuid7())
        assert isinstance(answer, wire.Status) and answer.reason == "quota_too_large"
        asked = wire.QuotaRequest(v=V, doc_id=envelope.id, copies=4, reason="多要")
        [answer] = desk.answers("finance", wire.encode(asked), uuid7())
        assert isinstance(answer, wire.Status) and answer.reason == "invalid_copies"
    finally:
        desk.handler.reconfigure(old, compare(lowered, old))


def logged(desk: Desk, unit: str, command: wire.Command, message_id: str) -> list[dict]:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        desk.handle(unit, wire.encode(command), message_id)
    return logs


def test_what_a_command_logs_names_its_unit_and_message_id(desk: Desk) -> None:
    """Bound once per command by the handler, and nothing of it outlives the command."""
    message_id = uuid7()
    # Refused in docex/router/lifecycle.py and logged by the handler: neither names them.
    command = wire.Return(v=V, doc_id="no-such-document", reason="发错了")

    [line] = logged(desk, "finance", command, message_id)

    assert line["event"] == "command_rejected"
    assert (line["unit"], line["message_id"]) == ("finance", message_id)
    assert structlog.contextvars.get_contextvars() == {}


def test_a_message_id_that_is_not_an_id_stays_out_of_the_log(desk: Desk) -> None:
    command = wire.StatusQuery(v=V, doc_id=desk.document)

    [line] = logged(desk, "finance", command, "\x1b[2Jcleared")

    assert line["reason"] == "invalid_message_id"
    assert (line["unit"], line["message_id"]) == ("finance", "")
