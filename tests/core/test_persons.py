"""Personal credentials and roles (§13–§15) without a broker: what the file binds, what a
signature covers, and how the board names who acted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docex import persons
from docex.board.views import _history
from docex.ledger.records import CommandRecord, Delivery
from docex.seals.errors import SealError


def test_roles_are_taken_by_either_name() -> None:
    """§13: roles by duty, as the administrator writes them."""
    assert persons.parse_roles("发文，收文, print,发文") == ["send", "receive", "print"]
    assert persons.shown_roles(["send", "admin"]) == "发文,管理"
    with pytest.raises(persons.RoleError, match="unknown role '盖章'"):
        persons.parse_roles("盖章")


def test_a_credential_is_usable_only_after_its_initial_password_is_changed(
    tmp_path: Path,
) -> None:
    """§15: the initial password is changed at once; the file binds its owner and that flag,
    so neither can be edited to get round it without the password."""
    path = tmp_path / "clerk.credential"
    key, public_key = persons.new_credential(path, "finance", "clerk", "initial-1")
    with pytest.raises(SealError) as refusal:
        persons.open_for_use(path, "initial-1", "finance")
    assert refusal.value.code == "credential_initial_password"

    document = json.loads(path.read_text())
    document["identity"]["initial"] = False
    path.write_text(json.dumps(document))
    with pytest.raises(SealError) as tampered:
        persons.open_for_use(path, "initial-1", "finance")
    assert tampered.value.code == "credential_bad_password"
    document["identity"]["initial"] = True
    path.write_text(json.dumps(document))

    changed = persons.change_password(path, "initial-1", "mine")
    assert (changed.key, changed.initial) == (key, False)
    credential = persons.open_for_use(path, "mine", "finance")
    with pytest.raises(SealError) as other_unit:
        persons.open_for_use(path, "mine", "education")
    assert other_unit.value.code == "credential_wrong_unit"

    headers = credential.headers("m-1", b"body")
    signature = bytes.fromhex(headers[persons.SIGNATURE_HEADER])
    signed = persons.signing_bytes("finance", "clerk", key, "m-1", b"body")
    assert persons.verify(public_key, signature, signed)
    for replayed in (
        persons.signing_bytes("finance", "clerk", key, "m-2", b"body"),
        persons.signing_bytes("finance", "clerk", key, "m-1", b"other body"),
        persons.signing_bytes("education", "clerk", key, "m-1", b"body"),
        persons.signing_bytes("finance", "lisi", key, "m-1", b"body"),
    ):
        assert not persons.verify(public_key, signature, replayed)


def test_the_board_names_who_acted() -> None:
    """§14: the document's history names the person for each act."""
    sent, read = "2026-11-26T10:00:00+08:00", "2026-11-26T10:30:00+08:00"
    delivery = Delivery("d1", "finance", "main", 1, 0, "received", 1, sent, read, "2026-11-26",
                        None)  # fmt: skip
    commands = [
        CommandRecord("gov-office", "submit", sent, "accepted", "", person="clerk"),
        CommandRecord("finance", "receipt", read, "accepted", "", person="lisi"),
    ]
    history = _history(sent, delivery, "gov-office", commands, {("gov-office", "clerk"): "张三"})
    assert (sent, "发送（张三，clerk）") in history
    assert (read, "签收回执（lisi）") in history
