"""Seal ceremonies with the CA key in split custody: real SLIP-39 shares, real files, real keys.

Every refused ceremony must leave the CA directory byte for byte as it was, and write no
carrier: each failure test checks that.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from cryptography.x509.oid import NameOID

from docex.seals import ceremony
from docex.seals.ca import init_ca, load_ca_certificate
from docex.seals.ceremony import Approval, Presence
from docex.seals.ceremony_log import LOG_FILE, CeremonyLogError
from docex.seals.certificate import MAX_SEAL_IMAGE_BYTES, PNG_SIGNATURE, seal_image
from docex.seals.custody import (
    CUSTODY_FILE,
    DEFAULT_CUSTODY,
    Custodian,
    Custody,
    read_share_file,
    rebuild_ca,
    share_path,
)
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.revocation import REVOCATION_LIST_FILE, Reason
from docex.seals.seal import Seal, open_seal

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PASSWORD = "carrier-口令"
PEOPLE = {"secrecy-office": "王保密", "info-centre": "李信息", "office-leader": "陈领导"}
UNIT_PERSON = "赵财务"
# §21: the unit's application, signed by its head, approved by a General Office leader.
APPROVAL = Approval("财政〔2026〕印申1号", "钱局长", "孙秘书长")
# The smallest well-formed PNG header is enough: only the signature is checked.
PNG = PNG_SIGNATURE + b"\x00\x00\x00\rIHDR" + bytes(17)
WITH_BACKUP = Custody(
    threshold=2,
    custodians=(
        *DEFAULT_CUSTODY.custodians,
        Custodian(role="office-leader", title="市府办公厅领导", required=False),
    ),
)


@dataclass(frozen=True)
class Office:
    """A CA directory and the custodians' share files, as ca-init leaves them."""

    ca_dir: Path
    shares_dir: Path

    def share(self, role: str) -> str:
        return read_share_file(share_path(self.shares_dir, role))

    def presence(
        self, unit: str | None, roles: tuple[str, ...] = ("secrecy-office", "info-centre")
    ) -> Presence:
        names = {role: PEOPLE[role] for role in roles}
        if unit is not None:
            names[unit] = UNIT_PERSON
        return Presence(shares={role: self.share(role) for role in roles}, names=names)


def establish_office(directory: Path, custody: Custody = DEFAULT_CUSTODY) -> Office:
    office = Office(directory / "ca", directory / "shares")
    ceremony.establish(office.ca_dir, "市府办公厅电子印章CA", office.shares_dir, custody, now=NOW)
    return office


def make_seal(
    office: Office,
    carrier: Path,
    unit: str = "finance",
    kind: SealKind = SealKind.SIGNING,
    now: datetime = NOW,
    presence: Presence | None = None,
) -> Seal:
    """A make ceremony; by default with both custodians and a person of the unit present."""
    attending = presence or office.presence(unit)
    return ceremony.make(
        office.ca_dir,
        attending,
        unit,
        "市财政局",
        kind,
        carrier,
        PASSWORD,
        now=now,
        approval=APPROVAL,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def refused(office: Office, carrier: Path, code: str, act) -> SealError:
    """Run a ceremony that must fail with `code`, and prove it wrote nothing."""
    before = snapshot(office.ca_dir)
    with pytest.raises(SealError) as e:
        act()
    assert e.value.code == code, e.value.message
    assert snapshot(office.ca_dir) == before
    assert not carrier.exists()
    return e.value


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return establish_office(tmp_path)


def test_ca_init_splits_the_key_among_the_custodians(office: Office) -> None:
    """§22, §23: the CA key is kept by no one whole; each custodian gets one share, 0600."""
    assert sorted(snapshot(office.ca_dir)) == sorted(
        ["ca.crt", CUSTODY_FILE, "issued.jsonl", LOG_FILE, REVOCATION_LIST_FILE]
    )
    for role in ("secrecy-office", "info-centre"):
        path = share_path(office.shares_dir, role)
        assert path.stat().st_mode & 0o777 == 0o600
        assert len(office.share(role).split()) == 33  # a 256-bit SLIP-39 share
    [genesis] = ceremony.verify_records(office.ca_dir)
    assert genesis["act"] == "ca-init"
    assert genesis["custodians"] == ["secrecy-office", "info-centre"]
    custody = ceremony.custody_of(office.ca_dir)
    certificate = load_ca_certificate(office.ca_dir / "ca.crt")
    with pytest.raises(SealError) as e:
        rebuild_ca(certificate, custody, {"secrecy-office": office.share("secrecy-office")})
    assert e.value.code == "shares_insufficient"


def test_the_rebuilt_key_is_put_away_after_the_ceremony(office: Office) -> None:
    """§22: the key exists only while the ceremony holds the CA open."""
    shares = {role: office.share(role) for role in ("secrecy-office", "info-centre")}
    with rebuild_ca(
        load_ca_certificate(office.ca_dir / "ca.crt"), ceremony.custody_of(office.ca_dir), shares
    ) as ca:
        assert ca.sign(b"record")
    with pytest.raises(SealError) as e:
        ca.sign(b"record")
    assert e.value.code == "ca_closed"


def test_make_change_destroy(office: Office, tmp_path: Path) -> None:
    """§20, §25: made, changed when lost (old one revoked), destroyed when the unit is revoked;
    every ceremony recorded with who attended, in which role, and the serials."""
    first = make_seal(office, tmp_path / "finance-1.carrier")
    assert open_seal(tmp_path / "finance-1.carrier", PASSWORD).serial == first.serial

    later = NOW + timedelta(hours=1)
    second, revocation = ceremony.change(
        office.ca_dir,
        office.presence("finance"),
        first.serial,
        Reason.LOST,
        tmp_path / "finance-2.carrier",
        PASSWORD,
        now=later,
        approval=APPROVAL,
    )
    assert (second.unit_id, second.kind) == ("finance", SealKind.SIGNING)
    assert (revocation.revoked_at, revocation.reason) == (later, Reason.LOST)

    end = NOW + timedelta(hours=2)
    ceremony.destroy(
        office.ca_dir,
        office.presence("finance"),
        second.serial,
        Reason.REVOKED,
        now=end,
        approval=APPROVAL,
    )

    statuses = {seal.serial: status for seal, status, _ in ceremony.list_seals(office.ca_dir, end)}
    assert statuses == {
        first.serial: f"revoked (lost) at {later.isoformat()}",
        second.serial: f"revoked (revoked) at {end.isoformat()}",
    }
    log = ceremony.verify_records(office.ca_dir)
    assert [r["act"] for r in log] == ["ca-init", "make", "change", "destroy"]
    change = log[2]
    assert (change["serial"], change["replaces"], change["reason"]) == (
        second.serial,
        first.serial,
        "lost",
    )
    assert change["attendees"] == [
        {"role": "secrecy-office", "name": "王保密", "share": True},
        {"role": "info-centre", "name": "李信息", "share": True},
        {"role": "finance", "name": UNIT_PERSON, "share": False},
    ]
    assert change["at"] == later.isoformat()


def test_every_ceremony_records_its_approval(office: Office, tmp_path: Path) -> None:
    """§21: made, changed or destroyed on the unit's application, signed by its head and
    approved by a General Office leader: the signed record says so, and the list shows it."""
    first = make_seal(office, tmp_path / "c1")
    renamed = Approval("财政〔2026〕印申2号", "钱局长", "周副秘书长")
    second, _ = ceremony.change(
        office.ca_dir,
        office.presence("finance"),
        first.serial,
        Reason.LOST,
        tmp_path / "c2",
        PASSWORD,
        now=NOW,
        approval=renamed,
    )
    ceremony.destroy(
        office.ca_dir, office.presence("finance"), second.serial, Reason.REVOKED, now=NOW,
        approval=APPROVAL,
    )  # fmt: skip
    log = ceremony.verify_records(office.ca_dir)
    assert [ceremony.approval_of(record) for record in log] == [None, APPROVAL, renamed, APPROVAL]
    assert log[1]["approval"] == {
        "reference": "财政〔2026〕印申1号",
        "unit_head": "钱局长",
        "approved_by": "孙秘书长",
    }
    listed = ceremony.list_seals(office.ca_dir, NOW)
    assert [approval for _, _, approval in listed] == [APPROVAL, renamed]


@pytest.mark.parametrize(
    ("approval", "code", "named"),
    [
        (Approval("", "钱局长", "孙秘书长"), "approval_missing", "--application"),
        (Approval("财政〔2026〕印申1号", " ", "孙秘书长"), "approval_missing", "--unit-head"),
        (Approval("财政〔2026〕印申1号", "钱局长", ""), "approval_missing", "--approved-by"),
        (Approval("财政\n印申1号", "钱局长", "孙秘书长"), "approval_invalid", "--application"),
        (Approval("财" * 65, "钱局长", "孙秘书长"), "approval_invalid", "--application"),
    ],
)
def test_no_ceremony_without_a_complete_approval(
    office: Office, tmp_path: Path, approval: Approval, code: str, named: str
) -> None:
    """§21: without the application, the unit head's signature and the leader's approval,
    nothing is made, changed or destroyed, and nothing is written."""
    seal = make_seal(office, tmp_path / "c1")
    presence = office.presence("finance")
    carrier = tmp_path / "c2"
    for act in (
        lambda: ceremony.make(
            office.ca_dir, presence, "education", "市教育局", SealKind.SIGNING, carrier,
            PASSWORD, now=NOW, approval=approval,
        ),
        lambda: ceremony.change(
            office.ca_dir, presence, seal.serial, Reason.LOST, carrier, PASSWORD, now=NOW,
            approval=approval,
        ),
        lambda: ceremony.destroy(
            office.ca_dir, presence, seal.serial, Reason.LOST, now=NOW, approval=approval
        ),
    ):  # fmt: skip
        assert named in refused(office, carrier, code, act).message


def test_list_shows_expired_seals(office: Office, tmp_path: Path) -> None:
    seal = make_seal(office, tmp_path / "c")
    after = seal.certificate.not_valid_after_utc + timedelta(seconds=1)
    assert [status for _, status, _ in ceremony.list_seals(office.ca_dir, after)] == ["expired"]


@pytest.mark.parametrize(
    ("roles", "unit", "message"),
    [
        (("secrecy-office",), "finance", "政务信息中心 (info-centre) must be present"),
        (("info-centre",), "finance", "保密室 (secrecy-office) must be present"),
        (("secrecy-office", "info-centre"), None, "a person of unit finance"),
    ],
    ids=["information-centre-absent", "secrecy-office-absent", "owning-unit-absent"],
)
def test_a_ceremony_needs_all_three_parties(
    office: Office, tmp_path: Path, roles: tuple[str, ...], unit: str | None, message: str
) -> None:
    """§23: the secrecy office, the information centre and the owning unit, all present."""
    carrier = tmp_path / "c"
    error = refused(
        office,
        carrier,
        "custodian_absent",
        lambda: make_seal(office, carrier, presence=office.presence(unit, roles)),
    )
    assert message in error.message and "§23" in error.message


def test_a_backup_share_does_not_replace_a_required_custodian(tmp_path: Path) -> None:
    """§23: a backup custodian's share counts toward the threshold, not toward attendance."""
    office = establish_office(tmp_path, WITH_BACKUP)
    carrier = tmp_path / "c"
    refused(
        office,
        carrier,
        "custodian_absent",
        lambda: make_seal(
            office,
            carrier,
            presence=office.presence("finance", ("secrecy-office", "office-leader")),
        ),
    )
    make_seal(office, carrier)  # the two required ones suffice: the threshold is 2


def test_too_few_shares(tmp_path: Path) -> None:
    """§22: below the threshold the key cannot be rebuilt, whoever is present."""
    office = establish_office(tmp_path, msgspec.structs.replace(WITH_BACKUP, threshold=3))
    carrier = tmp_path / "c"
    error = refused(
        office,
        carrier,
        "shares_insufficient",
        lambda: make_seal(office, carrier),
    )
    assert "3 custodians' shares rebuild the CA key; 2 given" in error.message


def test_a_missing_share_file(office: Office) -> None:
    with pytest.raises(SealError, match="cannot read share file") as e:
        read_share_file(office.shares_dir / "nobody.share")
    assert e.value.code == "share_unreadable"


def test_a_share_from_another_ca(office: Office, tmp_path: Path) -> None:
    """§22: only this CA's custodians' shares open it."""
    other = establish_office(tmp_path / "other")
    carrier = tmp_path / "c"
    presence = office.presence("finance")
    foreign = Presence(
        shares=dict(presence.shares) | {"info-centre": other.share("info-centre")},
        names=presence.names,
    )
    error = refused(
        office,
        carrier,
        "share_foreign",
        lambda: make_seal(office, carrier, presence=foreign),
    )
    assert "info-centre" in error.message or "not this CA's" in error.message


def test_a_duplicate_share(office: Office, tmp_path: Path) -> None:
    """§23: one custodian's share shown twice is still one custodian."""
    carrier = tmp_path / "c"
    presence = office.presence("finance")
    doubled = Presence(
        shares={role: office.share("secrecy-office") for role in presence.shares},
        names=presence.names,
    )
    error = refused(
        office,
        carrier,
        "share_duplicate",
        lambda: make_seal(office, carrier, presence=doubled),
    )
    assert "secrecy-office and info-centre are the same share" in error.message


def test_shares_swapped_between_custodians(office: Office, tmp_path: Path) -> None:
    carrier = tmp_path / "c"
    presence = office.presence("finance")
    swapped = Presence(
        shares={
            "secrecy-office": office.share("info-centre"),
            "info-centre": office.share("secrecy-office"),
        },
        names=presence.names,
    )
    refused(
        office,
        carrier,
        "share_wrong_role",
        lambda: make_seal(office, carrier, presence=swapped),
    )


def test_a_mistyped_share(office: Office, tmp_path: Path) -> None:
    """SLIP-39's checksum catches a word typed wrong before the key is rebuilt."""
    carrier = tmp_path / "c"
    presence = office.presence("finance")
    words = office.share("info-centre").split()
    words[5] = "academic" if words[5] != "academic" else "acid"
    mistyped = Presence(
        shares=dict(presence.shares) | {"info-centre": " ".join(words)}, names=presence.names
    )
    refused(
        office,
        carrier,
        "share_invalid",
        lambda: make_seal(office, carrier, presence=mistyped),
    )


def test_an_unnamed_share_bearer_and_an_unknown_role(office: Office, tmp_path: Path) -> None:
    """§23: the record names who brought each share."""
    carrier = tmp_path / "c"
    presence = office.presence("finance")
    unnamed = Presence(
        shares=presence.shares,
        names={k: v for k, v in presence.names.items() if k != "info-centre"},
    )
    stranger = Presence(shares=presence.shares, names=dict(presence.names) | {"police": "某人"})
    for attendance, code in [(unnamed, "attendee_unnamed"), (stranger, "custodian_unknown")]:
        refused(
            office,
            carrier,
            code,
            lambda attendance=attendance: make_seal(office, carrier, presence=attendance),
        )


def test_an_edited_custody_policy_stops_every_ceremony(office: Office, tmp_path: Path) -> None:
    """§23: dropping a required custodian from custody.toml does not dispense with them."""
    path = office.ca_dir / CUSTODY_FILE
    path.write_text(path.read_text().replace("required = true", "required = false", 1))
    carrier = tmp_path / "c"
    refused(office, carrier, "custody_untrusted", lambda: make_seal(office, carrier))


@pytest.mark.parametrize(
    ("custody", "message"),
    [
        (msgspec.structs.replace(DEFAULT_CUSTODY, threshold=1), "no single person"),
        (Custody(threshold=1, custodians=DEFAULT_CUSTODY.custodians[:1]), "2 to 16 custodians"),
        (
            Custody(threshold=2, custodians=(DEFAULT_CUSTODY.custodians[0],) * 2),
            "roles repeat",
        ),
        (
            Custody(threshold=2, custodians=(Custodian(role="保密室", title="x"),) * 2),
            "lowercase letters",
        ),
    ],
)
def test_ca_init_refuses_a_custody_one_person_could_use(
    tmp_path: Path, custody: Custody, message: str
) -> None:
    """§22: no single person can use the CA key."""
    with pytest.raises(SealError, match=message) as e:
        establish_office(tmp_path, custody)
    assert e.value.code == "custody_invalid"
    assert not (tmp_path / "ca").exists() and not (tmp_path / "shares").exists()


def test_ca_init_refuses_to_overwrite(office: Office, tmp_path: Path) -> None:
    before = snapshot(office.ca_dir)
    with pytest.raises(SealError) as e:
        ceremony.establish(office.ca_dir, "again", tmp_path / "s2", DEFAULT_CUSTODY, now=NOW)
    assert e.value.code == "ca_exists"
    with pytest.raises(SealError) as e:
        init_ca(office.ca_dir, "again", now=NOW)
    assert e.value.code == "ca_exists"
    with pytest.raises(SealError) as e:
        ceremony.establish(tmp_path / "ca2", "again", office.shares_dir, DEFAULT_CUSTODY, now=NOW)
    assert e.value.code == "share_exists"
    with pytest.raises(SealError) as e:
        ceremony.establish(tmp_path / "ca3", "x", tmp_path / "ca3" / "s", DEFAULT_CUSTODY, now=NOW)
    assert e.value.code == "custody_invalid"
    assert snapshot(office.ca_dir) == before
    assert not (tmp_path / "ca2").exists() and not (tmp_path / "ca3").exists()


def test_one_valid_seal_of_each_kind_per_unit(office: Office, tmp_path: Path) -> None:
    """§18: a unit has one signing and one verification seal; a second is a change."""
    make_seal(office, tmp_path / "signing")
    make_seal(office, tmp_path / "verification", kind=SealKind.VERIFICATION)
    carrier = tmp_path / "again"
    refused(office, carrier, "seal_exists", lambda: make_seal(office, carrier))


def test_the_exchange_seal_is_the_exchange_units_alone(office: Office, tmp_path: Path) -> None:
    seal = make_seal(office, tmp_path / "exchange", unit="exchange", kind=SealKind.EXCHANGE)
    assert (seal.unit_id, seal.kind) == ("exchange", SealKind.EXCHANGE)
    for unit, kind in [("finance", SealKind.EXCHANGE), ("exchange", SealKind.SIGNING)]:
        carrier = tmp_path / f"{unit}-{kind}"
        refused(
            office,
            carrier,
            "seal_kind_not_allowed",
            lambda unit=unit, kind=kind, carrier=carrier: make_seal(office, carrier, unit, kind),
        )


def test_the_seal_image_travels_in_the_certificate(office: Office, tmp_path: Path) -> None:
    """§19: the seal's registered image, carried by its certificate, kept when it is changed."""
    seal = ceremony.make(
        office.ca_dir,
        office.presence("finance"),
        "finance",
        "市财政局",
        SealKind.SIGNING,
        tmp_path / "c1",
        PASSWORD,
        now=NOW,
        image=PNG,
        approval=APPROVAL,
    )
    assert seal_image(seal.certificate) == PNG
    changed, _ = ceremony.change(
        office.ca_dir,
        office.presence("finance"),
        seal.serial,
        Reason.DAMAGED,
        tmp_path / "c2",
        PASSWORD,
        now=NOW + timedelta(hours=1),
        approval=APPROVAL,
    )
    assert seal_image(changed.certificate) == PNG
    plain = make_seal(
        office, tmp_path / "c3", kind=SealKind.VERIFICATION, now=NOW + timedelta(hours=2)
    )
    assert seal_image(plain.certificate) is None
    log = ceremony.verify_records(office.ca_dir)
    assert log[1]["image_sha256"] == log[2]["image_sha256"] and log[3]["image_sha256"] is None


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"GIF89a" + bytes(20), "not a PNG"),
        (PNG + bytes(MAX_SEAL_IMAGE_BYTES), "at most 65536"),
    ],
    ids=["not-png", "too-large"],
)
def test_a_bad_seal_image(office: Office, tmp_path: Path, image: bytes, message: str) -> None:
    carrier = tmp_path / "c"
    error = refused(
        office,
        carrier,
        "seal_image_invalid",
        lambda: ceremony.make(
            office.ca_dir,
            office.presence("finance"),
            "finance",
            "市财政局",
            SealKind.SIGNING,
            carrier,
            PASSWORD,
            now=NOW,
            image=image,
            approval=APPROVAL,
        ),
    )
    assert message in error.message


def test_a_renamed_unit_gets_a_seal_in_its_new_name(office: Office, tmp_path: Path) -> None:
    """§9(一), §25: on a rename the old seal is revoked and a new one made in the new name."""
    old = make_seal(office, tmp_path / "old")
    carrier = tmp_path / "new"
    for reason, name in [(Reason.MERGED, "市财政局"), (Reason.RENAMED, None)]:
        refused(
            office,
            carrier,
            "reason_invalid",
            lambda reason=reason, name=name: ceremony.change(
                office.ca_dir,
                office.presence("finance"),
                old.serial,
                reason,
                carrier,
                PASSWORD,
                now=NOW,
                unit_name=name,
                approval=APPROVAL,
            ),
        )
    new, _ = ceremony.change(
        office.ca_dir,
        office.presence("finance"),
        old.serial,
        Reason.RENAMED,
        carrier,
        PASSWORD,
        now=NOW,
        unit_name="市财政和国资局",
        approval=APPROVAL,
    )
    [name] = new.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert name.value == "市财政和国资局"


def test_unknown_and_already_revoked_seals(office: Office, tmp_path: Path) -> None:
    seal = make_seal(office, tmp_path / "c")
    ceremony.destroy(
        office.ca_dir,
        office.presence("finance"),
        seal.serial,
        Reason.LOST,
        now=NOW,
        approval=APPROVAL,
    )
    for serial, code in [("abc123", "seal_unknown"), (seal.serial, "seal_already_revoked")]:
        refused(
            office,
            tmp_path / "none",
            code,
            lambda serial=serial: ceremony.destroy(
                office.ca_dir,
                office.presence("finance"),
                serial,
                Reason.LOST,
                now=NOW,
                approval=APPROVAL,
            ),
        )


def test_an_existing_carrier_is_not_written_over(office: Office, tmp_path: Path) -> None:
    """§25: a seal is destroyed in a ceremony, not by writing over its carrier."""
    carrier = tmp_path / "c"
    carrier.write_text("the old seal")
    before = snapshot(office.ca_dir)
    with pytest.raises(SealError) as e:
        make_seal(office, carrier)
    assert e.value.code == "carrier_exists"
    assert (snapshot(office.ca_dir), carrier.read_text()) == (before, "the old seal")


def _lines(office: Office) -> list[str]:
    return (office.ca_dir / LOG_FILE).read_text().splitlines()


def _write_lines(office: Office, lines: list[str]) -> None:
    (office.ca_dir / LOG_FILE).write_text("".join(line + "\n" for line in lines))


@pytest.fixture
def four_records(office: Office, tmp_path: Path) -> Office:
    """ca-init, then three ceremonies: make, make, destroy."""
    signing = make_seal(office, tmp_path / "s")
    make_seal(office, tmp_path / "v", kind=SealKind.VERIFICATION)
    ceremony.destroy(
        office.ca_dir,
        office.presence("finance"),
        signing.serial,
        Reason.LOST,
        now=NOW,
        approval=APPROVAL,
    )
    assert len(ceremony.verify_records(office.ca_dir)) == 4
    return office


def _edit_name(lines: list[str]) -> list[str]:
    record = json.loads(lines[1])
    record["attendees"][0]["name"] = "冒名者"
    return [lines[0], json.dumps(record, ensure_ascii=False), *lines[2:]]


@pytest.mark.parametrize(
    ("tamper", "line", "why"),
    [
        (_edit_name, 2, "signature does not match"),
        (lambda lines: [lines[0], lines[1], lines[3]], 3, "it is record 4 where record 3 belongs"),
        (lambda lines: [lines[0], lines[2], lines[1], lines[3]], 2, "record 3 where record 2"),
        (lambda lines: [lines[0], lines[1], "{not json", *lines[2:]], 3, "not a ceremony record"),
        (lambda lines: lines[:3], 4, "no record says so"),
        (lambda lines: [], 1, "the log is empty"),
    ],
    ids=["edited", "deleted", "reordered", "garbage-inserted", "cut-off-the-end", "emptied"],
)
def test_a_tampered_log_names_its_first_bad_record(
    four_records: Office, tmp_path: Path, tamper, line: int, why: str
) -> None:
    """§20: the record of who made, changed or destroyed which seal cannot be quietly changed;
    verification names the first record that cannot be trusted, and no ceremony appends to it."""
    office = four_records
    _write_lines(office, tamper(_lines(office)))
    with pytest.raises(CeremonyLogError) as e:
        ceremony.verify_records(office.ca_dir)
    assert e.value.line == line
    assert f"{LOG_FILE} line {line}: " in e.value.message and why in e.value.message
    carrier = tmp_path / "c"
    refused(office, carrier, "ceremony_log_broken", lambda: make_seal(office, carrier, "education"))


def test_a_spliced_log_from_another_ca(four_records: Office, tmp_path: Path) -> None:
    other = establish_office(tmp_path / "other")
    lines = _lines(four_records)
    _write_lines(four_records, [*lines, *_lines(other)])
    with pytest.raises(CeremonyLogError, match="line 5: its CA signature does not match"):
        ceremony.verify_records(four_records.ca_dir)


def test_a_revocation_list_not_signed_by_the_ca(office: Office, tmp_path: Path) -> None:
    """§25: only the CA revokes; a list it did not sign is refused, not merged."""
    other = establish_office(tmp_path / "other")
    seal = make_seal(other, tmp_path / "o")
    ceremony.destroy(
        other.ca_dir,
        other.presence("finance"),
        seal.serial,
        Reason.LOST,
        now=NOW,
        approval=APPROVAL,
    )
    shutil.copy(other.ca_dir / REVOCATION_LIST_FILE, office.ca_dir / REVOCATION_LIST_FILE)
    carrier = tmp_path / "c"
    error = refused(
        office, carrier, "revocation_list_untrusted", lambda: make_seal(office, carrier)
    )
    assert "not signed by this exchange's CA" in error.message


def test_a_ceremony_is_never_dated_before_the_last_one(office: Office, tmp_path: Path) -> None:
    """§25: a revocation is never backdated, not even by a machine whose clock went back."""
    make_seal(office, tmp_path / "c1", now=NOW + timedelta(hours=1))
    carrier = tmp_path / "c2"
    refused(
        office,
        carrier,
        "ceremony_clock_behind",
        lambda: make_seal(office, carrier, kind=SealKind.VERIFICATION),
    )


def test_ceremonies_are_held_one_at_a_time(office: Office, tmp_path: Path) -> None:
    fd = os.open(office.ca_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        carrier = tmp_path / "c"
        refused(office, carrier, "ceremony_busy", lambda: make_seal(office, carrier))
    finally:
        os.close(fd)


def reshared(office: Office, directory: Path, custody: Custody = DEFAULT_CUSTODY) -> Office:
    """The office after a reshare ceremony held by its present custodians, at NOW + 1 h."""
    ceremony.reshare(
        office.ca_dir, office.presence(None), custody, directory, now=NOW + timedelta(hours=1)
    )
    return Office(office.ca_dir, directory)


def test_a_reshare_gives_new_shares_and_refuses_the_old(office: Office, tmp_path: Path) -> None:
    """§22, §23: when a custodian hands over, the key is split anew. The new shares open the
    CA; the old ones are refused from then on. The key, and so every seal, stays."""
    before = make_seal(office, tmp_path / "before.carrier", unit="education")
    certificate = (office.ca_dir / "ca.crt").read_bytes()
    new = reshared(office, tmp_path / "new-shares")

    assert new.share("info-centre") != office.share("info-centre")
    after = make_seal(new, tmp_path / "after.carrier", now=NOW + timedelta(hours=2))
    assert (office.ca_dir / "ca.crt").read_bytes() == certificate
    assert after.certificate.issuer == before.certificate.issuer
    carrier = tmp_path / "old.carrier"
    later = NOW + timedelta(hours=3)
    error = refused(
        office, carrier, "share_foreign", lambda: make_seal(office, carrier, "archive", now=later)
    )
    assert "another split" in error.message
    [record] = [r for r in ceremony.verify_records(office.ca_dir) if r["act"] == "reshare"]
    assert [(a["role"], a["name"]) for a in record["attendees"]] == [
        ("secrecy-office", PEOPLE["secrecy-office"]),
        ("info-centre", PEOPLE["info-centre"]),
    ]


def test_a_reshare_can_change_who_holds_shares(office: Office, tmp_path: Path) -> None:
    """§23: a backup holder added at a reshare counts toward the threshold from then on; the
    required custodians stay required."""
    new = reshared(office, tmp_path / "new-shares", WITH_BACKUP)
    assert ceremony.custody_of(office.ca_dir).custodian("office-leader") is not None
    presence = new.presence("finance", roles=("secrecy-office", "info-centre", "office-leader"))
    seal = make_seal(new, tmp_path / "c", now=NOW + timedelta(hours=2), presence=presence)
    assert seal.unit_id == "finance"
    carrier = tmp_path / "absent.carrier"
    only_backup = new.presence("education", roles=("secrecy-office", "office-leader"))
    refused(
        new,
        carrier,
        "custodian_absent",
        lambda: make_seal(
            office, carrier, "education", now=NOW + timedelta(hours=2), presence=only_backup
        ),
    )


def test_a_reshare_needs_the_required_custodians(office: Office, tmp_path: Path) -> None:
    """§23: nobody splits the key without the custodians who must attend; nothing is written."""
    absent = Presence(
        shares={"secrecy-office": office.share("secrecy-office")},
        names={"secrecy-office": PEOPLE["secrecy-office"]},
    )
    shares = tmp_path / "new-shares"
    refused(
        office,
        tmp_path / "no-carrier",
        "custodian_absent",
        lambda: ceremony.reshare(office.ca_dir, absent, DEFAULT_CUSTODY, shares, now=NOW),
    )
    assert not shares.exists() or not any(shares.iterdir())


def test_a_reshare_cut_short_after_its_record_is_finished_next_time(
    office: Office, tmp_path: Path
) -> None:
    """A crash after the log vouched for the new policy but before it replaced the old one:
    the next ceremony puts it in place rather than refusing every ceremony for good."""
    old_policy = (office.ca_dir / CUSTODY_FILE).read_bytes()
    new = reshared(office, tmp_path / "new-shares")
    pending = office.ca_dir / f"{CUSTODY_FILE}.next"
    os.replace(office.ca_dir / CUSTODY_FILE, pending)
    (office.ca_dir / CUSTODY_FILE).write_bytes(old_policy)

    seal = make_seal(new, tmp_path / "c", now=NOW + timedelta(hours=2))
    assert seal.unit_id == "finance"
    assert not pending.exists()
    assert ceremony.verify_records(office.ca_dir)[-1]["act"] == "make"
