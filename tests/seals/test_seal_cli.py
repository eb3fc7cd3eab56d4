"""`docex seal …` as the General Office runs it: ca-init, ceremonies, list, log verify."""

from __future__ import annotations

import argparse
import builtins
import getpass
import shlex
import sys
from pathlib import Path

import pytest

from docex.cli.seal import add_seal_commands
from docex.seals import ceremony
from docex.seals.ceremony_log import LOG_FILE
from docex.seals.certificate import seal_image
from docex.seals.custody import CUSTODY_FILE, read_share_file
from docex.seals.seal import open_seal
from tests.seals.test_seal_ceremony import PNG, snapshot

PASSWORD = "carrier-口令"
OFFICE_PEOPLE = "--attendee secrecy-office=王保密 --attendee info-centre=李信息"
# §21: the application, the unit head who signed it, the General Office leader who approved it.
APPROVAL_FLAGS = "--application 财政〔2026〕印申1号 --unit-head 钱局长 --approved-by 孙秘书长"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """Parse like the main CLI would and call the handler."""
    parser = argparse.ArgumentParser(prog="docex")
    add_seal_commands(parser.add_subparsers(dest="command", required=True))

    def run(command: str) -> tuple[int, str, str]:
        args = parser.parse_args(shlex.split(command))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def ca(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCEX_SEAL_PASSWORD", PASSWORD)
    code, out, err = run(
        f"seal ca-init --dir {tmp_path / 'ca'} --name 市府办公厅电子印章CA "
        f"--shares-dir {tmp_path / 'shares'}"
    )
    assert code == 0, err
    assert str(tmp_path / "shares" / "secrecy-office.share") in out
    return tmp_path / "ca"


def shares(ca: Path, *roles: str) -> str:
    return " ".join(
        f"--share-file {role}={ca.parent / 'shares' / f'{role}.share'}" for role in roles
    )


def ceremony_flags(ca: Path, unit: str) -> str:
    present = shares(ca, "secrecy-office", "info-centre")
    return f"--ca-dir {ca} {present} {OFFICE_PEOPLE} --attendee {unit}=赵某 {APPROVAL_FLAGS}"


def test_ceremonies_end_to_end(run, ca: Path, tmp_path: Path) -> None:
    """§20, §23, §25: make, change (lost) and destroy (revoked), each with the three parties,
    listed with their status, and the log verifies."""
    (tmp_path / "seal.png").write_bytes(PNG)
    code, out, err = run(
        f"seal make {ceremony_flags(ca, 'finance')} --unit finance --unit-name 市财政局 "
        f"--kind signing --out {tmp_path / 'f1.carrier'} --image {tmp_path / 'seal.png'}"
    )
    assert code == 0, err
    first = open_seal(tmp_path / "f1.carrier", PASSWORD)
    assert first.serial in out and "§24" in out
    assert seal_image(first.certificate) == PNG

    code, out, err = run(
        f"seal make {ceremony_flags(ca, 'exchange')} --unit exchange --unit-name 电子公文交换系统 "
        f"--kind exchange --out {tmp_path / 'exchange.carrier'}"
    )
    assert code == 0, err

    code, out, err = run(
        f"seal change {ceremony_flags(ca, 'finance')} --serial {first.serial} --reason lost "
        f"--out {tmp_path / 'f2.carrier'}"
    )
    assert code == 0, err
    second = open_seal(tmp_path / "f2.carrier", PASSWORD)
    assert f"seal {first.serial} revoked (lost) at " in out and second.serial in out

    code, out, err = run(
        f"seal destroy {ceremony_flags(ca, 'finance')} --serial {second.serial} --reason revoked"
    )
    assert code == 0, err
    assert f"seal {second.serial} of unit finance revoked (revoked) at " in out

    code, out, _ = run(f"seal list --ca-dir {ca}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["UNIT", "KIND", "SERIAL", "VALID", "APPROVAL", "(§21)", "STATUS"]
    rows = {line.split()[2]: line for line in lines[1:]}
    approval = ["财政〔2026〕印申1号,", "signed", "钱局长,", "approved", "孙秘书长"]
    assert rows[first.serial].split()[:2] == ["finance", "signing"]
    assert rows[first.serial].split()[4:9] == approval
    assert rows[first.serial].split()[9:11] == ["revoked", "(lost)"]
    assert rows[second.serial].split()[9:11] == ["revoked", "(revoked)"]
    assert [row.split()[9] for row in rows.values() if "exchange" in row] == ["valid"]

    assert run(f"seal log verify --ca-dir {ca}")[:2] == (
        0,
        "5 ceremony records verified; the register and revocation list agree\n",
    )

    code, out, _ = run(f"seal log show --ca-dir {ca}")
    assert code == 0
    shown = out.splitlines()
    destroyed = next(i for i, line in enumerate(shown) if " destroy " in line)
    assert f"serial={second.serial}" in shown[destroyed] and "reason=revoked" in shown[destroyed]
    assert shown[destroyed + 1].split() == [
        "approval:", "财政〔2026〕印申1号,", "signed", "钱局长,", "approved", "孙秘书长"
    ]  # fmt: skip
    assert shown[destroyed + 2].startswith("      present: 王保密 (secrecy-office, share), ")
    assert sum("approval:" in line for line in shown) == 4  # every ceremony but ca-init


def test_a_ceremony_needs_the_application_and_its_approval(run, ca: Path, tmp_path: Path) -> None:
    """§21: the application's reference, the unit head who signed it and the General Office
    leader who approved it are required options; empty ones are refused before anything."""
    make = (
        f"seal make {ceremony_flags(ca, 'finance')} --unit finance --unit-name 市财政局 "
        f"--kind signing --out {tmp_path / 'c'}"
    )
    for option in ("--application", "--unit-head", "--approved-by"):
        without = make.replace(option, "--ignored-option")
        with pytest.raises(SystemExit) as e:
            run(without)
        assert e.value.code == 2
    before = snapshot(ca)
    code, _, err = run(make.replace("--unit-head 钱局长", "--unit-head ' '"))
    assert code == 2
    assert err.endswith(  # after the usage messages above
        "\nerror: approval_missing: §21: a ceremony needs the unit head who signed the"
        " application (--unit-head)\n"
    )
    assert snapshot(ca) == before and not (tmp_path / "c").exists()


def test_errors_are_one_line_and_write_nothing(run, ca: Path, tmp_path: Path) -> None:
    """§23: without the owning unit's person, or a custodian's share, there is no ceremony."""
    make = (
        f"seal make --unit finance --unit-name 市财政局 --kind signing --out {tmp_path / 'c'} "
        + APPROVAL_FLAGS
    )
    before = snapshot(ca)
    for flags, expected in [
        (
            f"--ca-dir {ca} {shares(ca, 'secrecy-office', 'info-centre')} {OFFICE_PEOPLE}",
            "error: custodian_absent: §23: a person of unit finance, whose seal it is, must be "
            "present (--attendee finance=NAME)\n",
        ),
        (
            f"--ca-dir {ca} {shares(ca, 'secrecy-office')} {OFFICE_PEOPLE} --attendee finance=赵某",
            "error: custodian_absent: §23: 市府办公厅政务信息中心 (info-centre) must be present "
            "with its share\n",
        ),
        (
            f"{ceremony_flags(ca, 'finance')} --share-file info-centre={tmp_path / 'lost'}",
            "error: share_duplicate: --share-file names a role more than once\n",
        ),
    ]:
        assert run(f"{make} {flags}") == (2, "", expected)
    code, _, err = run(
        f"{make} --ca-dir {ca} --share-file secrecy-office={tmp_path / 'lost.share'} "
        f"{shares(ca, 'info-centre')} {OFFICE_PEOPLE} --attendee finance=赵某"
    )
    assert code == 2 and err.startswith("error: share_unreadable: cannot read share file")
    assert snapshot(ca) == before and not (tmp_path / "c").exists()

    log = ca / LOG_FILE
    log.write_text(log.read_text().replace("市府办公厅电子印章CA", "假CA"))
    code, _, err = run(f"seal log verify --ca-dir {ca}")
    assert (code, err) == (
        2,
        f"error: ceremony_log_broken: {LOG_FILE} line 1: its CA signature does not match: "
        "the record was altered, or was not written by this CA\n",
    )


def test_ca_init_with_custodians_and_threshold(run, tmp_path: Path) -> None:
    """§22, §23: the roles and the threshold are the office's to choose, within reason."""
    base = f"seal ca-init --name 市府办公厅 --shares-dir {tmp_path / 'shares'}"
    roles = "--custodian secrecy-office=保密室 --custodian info-centre=信息中心"
    code, _, err = run(f"{base} --dir {tmp_path / 'a'} {roles} --threshold 1")
    assert (code, err.split(": ")[:2]) == (2, ["error", "custody_invalid"])
    assert not (tmp_path / "a").exists()

    code, out, err = run(
        f"{base} --dir {tmp_path / 'b'} {roles} --backup-custodian office-leader=办公厅领导"
    )
    assert code == 0, err
    custody = ceremony.custody_of(tmp_path / "b")
    assert custody.threshold == 2
    assert [(c.role, c.required) for c in custody.custodians] == [
        ("secrecy-office", True),
        ("info-centre", True),
        ("office-leader", False),
    ]
    assert "office-leader.share  办公厅领导 (backup)" in out
    assert (tmp_path / "b" / CUSTODY_FILE).exists()


def test_prompts_at_a_terminal(
    run, ca: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§23: at the ceremony each custodian types their name and share words in turn."""
    words = {
        role: read_share_file(ca.parent / "shares" / f"{role}.share")
        for role in ("secrecy-office", "info-centre")
    }
    names = iter(["王保密", "李信息", "赵某"])
    secrets = iter([words["secrecy-office"], words["info-centre"], "口令", "口令"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(builtins, "input", lambda prompt: next(names))
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(secrets))
    monkeypatch.delenv("DOCEX_SEAL_PASSWORD")
    code, _, err = run(
        f"seal make --ca-dir {ca} --unit finance --unit-name 市财政局 --kind verification "
        f"--out {tmp_path / 'v.carrier'} {APPROVAL_FLAGS}"
    )
    assert code == 0, err
    assert open_seal(tmp_path / "v.carrier", "口令").kind == "verification"
    attendees = ceremony.verify_records(ca)[-1]["attendees"]
    assert [a["name"] for a in attendees] == ["王保密", "李信息", "赵某"]


def test_a_name_too_long_for_a_certificate(run, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as e:
        run(f"seal ca-init --dir {tmp_path} --shares-dir {tmp_path} --name {'市' * 22}")
    assert e.value.code == 2


def test_ca_reshare_from_the_command_line(run, ca: Path, tmp_path: Path) -> None:
    """§22, §23: the custodians present split the key anew into new share files; the next
    ceremony takes the new shares and refuses the old ones."""
    new = tmp_path / "new-shares"
    present = shares(ca, "secrecy-office", "info-centre")
    code, out, err = run(
        f"seal ca-reshare --ca-dir {ca} --shares-dir {new} {present} {OFFICE_PEOPLE} "
        "--backup-custodian office-leader=市府办公厅领导"
    )
    assert code == 0, err
    assert str(new / "office-leader.share") in out and "destroy the old share files" in out
    assert "threshold = 2" in (ca / CUSTODY_FILE).read_text()

    old = f"--ca-dir {ca} {present} {OFFICE_PEOPLE} --attendee finance=赵某 {APPROVAL_FLAGS}"
    code, _, err = run(
        f"seal make {old} --unit finance --unit-name 市财政局 --kind signing"
        f" --out {tmp_path / 'refused.carrier'}"
    )
    assert code != 0 and "another split" in err
    renewed = " ".join(
        f"--share-file {role}={new / f'{role}.share'}" for role in ("secrecy-office", "info-centre")
    )
    code, out, err = run(
        f"seal make --ca-dir {ca} {renewed} {OFFICE_PEOPLE} --attendee finance=赵某"
        f" {APPROVAL_FLAGS} --unit finance --unit-name 市财政局 --kind signing"
        f" --out {tmp_path / 'f.carrier'}"
    )
    assert code == 0, err
    code, out, err = run(f"seal log verify --ca-dir {ca}")
    assert code == 0 and "3 ceremony records verified" in out


def test_the_ceremony_log_in_chinese(run, ca: Path, tmp_path: Path) -> None:
    """§23: who attended, and who brought a share, read in the operator's language."""
    from tests.edge.test_error_language import CHINESE, ENGLISH, docex, untranslated

    code, _, err = run(
        f"seal make {ceremony_flags(ca, 'finance')} --unit finance --unit-name 市财政局 "
        f"--kind signing --out {tmp_path / 'f1.carrier'}"
    )
    assert code == 0, err
    code, out = docex(CHINESE, "seal", "log", "show", "--ca-dir", ca)
    assert code == 0 and "      到场：王保密（secrecy-office，持分片）" in out, out
    assert not untranslated(out), out
    code, out = docex(ENGLISH, "seal", "log", "show", "--ca-dir", ca)
    assert code == 0 and "      present: 王保密 (secrecy-office, share)" in out, out
