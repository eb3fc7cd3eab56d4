"""The register of persons and roles (§13–§15), alike on both databases."""

from __future__ import annotations

from docex.ledger.port import Ledger
from docex.ledger.records import PersonRecord

AT = "2026-03-02T10:00:00+08:00"
LATER = "2026-03-03T10:00:00+08:00"


def clerk(name: str = "zhangsan", unit: str = "finance") -> PersonRecord:
    return PersonRecord(
        unit=unit,
        name=name,
        chinese_name="张三",
        roles=["send", "receive"],
        mobile="13800000000",
        status="active",
        system=False,
        key_id="k1" if (unit, name) == ("finance", "zhangsan") else f"k-{unit}-{name}",
        public_key=b"\x01" * 32,
        created_at=AT,
        changed_at=AT,
    )


def test_the_register_keeps_each_person_of_each_unit(ledger: Ledger) -> None:
    """§13: the administrator files who has which roles; the exchange keeps it."""
    with ledger.transaction():
        assert not ledger.has_persons("finance")
        ledger.add_person(clerk())
        ledger.add_person(clerk("lisi"))
        ledger.add_person(clerk("wangwu", unit="education"))
    assert ledger.has_persons("finance") and not ledger.has_persons("gov-office")
    assert ledger.person("finance", "zhangsan") == clerk()
    assert [p.name for p in ledger.persons("finance")] == ["lisi", "zhangsan"]
    assert [(p.unit, p.name) for p in ledger.persons()] == [
        ("education", "wangwu"),
        ("finance", "lisi"),
        ("finance", "zhangsan"),
    ]
    assert ledger.person("education", "zhangsan") is None


def test_a_reset_revokes_every_earlier_credential(ledger: Ledger) -> None:
    """§15: a reset issues a new credential; the old one signs nothing any more."""
    with ledger.transaction():
        ledger.add_person(clerk())
        assert ledger.replace_credential("finance", "zhangsan", "k2", b"\x02" * 32, LATER)
        assert not ledger.replace_credential("finance", "nobody", "k3", b"\x03" * 32, LATER)
        assert ledger.set_person_status("finance", "zhangsan", "disabled", LATER)
    person = ledger.person("finance", "zhangsan")
    assert person is not None
    assert (person.key_id, person.public_key, person.status) == ("k2", b"\x02" * 32, "disabled")
    assert ledger.credential_revoked_at("finance", "zhangsan", "k1") == LATER
    assert ledger.credential_revoked_at("finance", "zhangsan", "k2") is None
    assert ledger.credential_revoked_at("education", "zhangsan", "k1") is None


def test_a_command_records_who_acted(ledger: Ledger) -> None:
    """§14: the ledger names the person for each act."""
    with ledger.transaction():
        ledger.record_command("c1", "finance", "submit", AT, "accepted", doc_id="d1",
                              person="zhangsan")  # fmt: skip
        ledger.record_command("c2", "finance", "receipt", LATER, "accepted", doc_id="d1")
    assert ledger.command_person("finance", "c1") == "zhangsan"
    assert ledger.command_person("finance", "c2") == ""
    assert [c.person for c in ledger.document_commands("d1")] == ["zhangsan", ""]


def test_who_acted_on_each_delivery_is_kept_with_the_document(ledger: Ledger) -> None:
    """§14: the ledger names who sent a document, and who received, printed which copies,
    returned or withdrew each delivery, until retention drops the document."""
    from docex.ledger.records import DeliveryAct
    from tests.ledger.stored import add_document

    with ledger.transaction():
        add_document(ledger, "d1", ["education", "gov-office"])
        ledger.record_command("cmd-d1", "finance", "submit", AT, "accepted", "", "d1", "zhangsan")
        ledger.record_act("d1", DeliveryAct("education", "received", "lisi", AT))
        ledger.record_act("d1", DeliveryAct("education", "printed", "lisi", AT, 1, 2))
        ledger.record_act("d1", DeliveryAct("education", "printed", "", LATER, 3, 3))
        ledger.record_act("d1", DeliveryAct("gov-office", "withdrawn", "zhangsan", LATER))
        add_document(ledger, "d2", ["education"])
    assert ledger.sender_person("d1") == "zhangsan"
    assert ledger.sender_person("d2") == "" and ledger.sender_person("nothing") == ""
    assert ledger.delivery_acts("d1") == [
        DeliveryAct("education", "received", "lisi", AT),
        DeliveryAct("education", "printed", "lisi", AT, 1, 2),
        DeliveryAct("education", "printed", "", LATER, 3, 3),
        DeliveryAct("gov-office", "withdrawn", "zhangsan", LATER),
    ]
    assert ledger.delivery_acts("d2") == []
    with ledger.transaction():
        pruned = ledger.prune_evidence("2030-01-01T00:00:00+08:00", limit=10)
    assert pruned["delivery_acts"] == 4
    assert ledger.delivery_acts("d1") == []


def test_the_board_reads_the_register_with_each_credentials_first_use(ledger: Ledger) -> None:
    """§13, §15: the office's board lists each unit's people with their credentials, which a
    reset revoked and whether the current one has been used (its initial password changed)."""
    with ledger.transaction():
        ledger.add_person(clerk())
        ledger.add_person(clerk("wangwu", unit="education"))
        ledger.credential_used("k1", AT)
        ledger.credential_used("k1", LATER)  # the first use stays
        ledger.replace_credential("finance", "zhangsan", "k2", b"\x02" * 32, LATER)
    (zhangsan,) = ledger.board_register("finance", 10)
    assert not zhangsan.in_use
    assert [(c.key_id, c.revoked_at, c.first_used_at) for c in zhangsan.credentials] == [
        ("k2", None, None),
        ("k1", LATER, AT),
    ]
    with ledger.transaction():
        ledger.credential_used("k2", LATER)
    assert [p.in_use for p in ledger.board_register(None, 10)] == [False, True]
    assert [p.unit for p in ledger.board_register(None, 1, offset=1)] == ["finance"]
