"""Revoked seals: the CA's signed revocation list, and judging a seal at the time it is given."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from docex.seals import ceremony
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.revocation import REVOCATION_LIST_FILE, Reason
from docex.seals.seal import Seal
from docex.seals.verify import SealVerifier
from tests.seals.test_seal_ceremony import APPROVAL, NOW, Office, establish_office, make_seal

DATA = b"canonical envelope header || sha256(content)"
REVOKED_AT = NOW + timedelta(hours=1)


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return establish_office(tmp_path)


def verify(verifier: SealVerifier, seal: Seal, at, kind: SealKind = SealKind.SIGNING) -> None:
    verifier.verify(
        seal.certificate_der, DATA, seal.sign(DATA), unit_id=seal.unit_id, kind=kind, at=at
    )


def verifier_of(office: Office) -> SealVerifier:
    return SealVerifier.from_files(office.ca_dir / "ca.crt", office.ca_dir / REVOCATION_LIST_FILE)


def test_a_seal_is_refused_from_its_revocation_on_never_before(
    office: Office, tmp_path: Path
) -> None:
    """§25: a lost seal is revoked at the ceremony; what it sealed before stays valid."""
    seal = make_seal(office, tmp_path / "c")
    ceremony.destroy(
        office.ca_dir,
        office.presence("finance"),
        seal.serial,
        Reason.LOST,
        now=REVOKED_AT,
        approval=APPROVAL,
    )
    verifier = verifier_of(office)
    verify(verifier, seal, REVOKED_AT - timedelta(seconds=1))
    for at in (REVOKED_AT, REVOKED_AT + timedelta(seconds=1)):
        with pytest.raises(SealError) as e:
            verify(verifier, seal, at)
        assert e.value.code == "seal_revoked"
        assert seal.serial in e.value.message
        assert f"revoked (lost) at {REVOKED_AT.isoformat()}" in e.value.message


def test_every_reason_is_kept_as_a_standard_reason_code(office: Office, tmp_path: Path) -> None:
    """§9, §25: renamed, revoked, merged, lost, damaged, each read back from a standard CRL."""
    expected = {
        Reason.RENAMED: x509.ReasonFlags.affiliation_changed,
        Reason.REVOKED: x509.ReasonFlags.privilege_withdrawn,
        Reason.MERGED: x509.ReasonFlags.cessation_of_operation,
        Reason.LOST: x509.ReasonFlags.key_compromise,
        Reason.DAMAGED: x509.ReasonFlags.superseded,
    }
    serials = {}
    for reason in Reason:
        unit = f"unit-{reason}"
        seal = make_seal(office, tmp_path / unit, unit=unit, now=REVOKED_AT)
        ceremony.destroy(
            office.ca_dir,
            office.presence(unit),
            seal.serial,
            reason,
            now=REVOKED_AT,
            approval=APPROVAL,
        )
        serials[reason] = seal.certificate.serial_number
    crl = x509.load_pem_x509_crl((office.ca_dir / REVOCATION_LIST_FILE).read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 5
    for reason, serial in serials.items():
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        assert entry is not None and entry.revocation_date_utc == REVOKED_AT
        code = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert code == expected[reason]
    statuses = {
        s.unit_id: status for s, status, _ in ceremony.list_seals(office.ca_dir, REVOKED_AT)
    }
    assert statuses == {
        f"unit-{reason}": f"revoked ({reason}) at {REVOKED_AT.isoformat()}" for reason in Reason
    }


def test_a_revocation_list_from_another_ca_is_refused(office: Office, tmp_path: Path) -> None:
    """§25: only the CA revokes. Another CA of the very same name is still another CA."""
    other = establish_office(tmp_path / "other")
    assert (other.ca_dir / "ca.crt").read_bytes() != (office.ca_dir / "ca.crt").read_bytes()
    with pytest.raises(SealError, match="not signed by this exchange's CA") as e:
        SealVerifier.from_files(office.ca_dir / "ca.crt", other.ca_dir / REVOCATION_LIST_FILE)
    assert e.value.code == "revocation_list_untrusted"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"-----BEGIN X509 CRL-----\n", "not a PEM revocation list")],
    ids=["missing", "garbled"],
)
def test_an_unreadable_revocation_list(
    office: Office, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "list.crl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SealError, match=message) as e:
        SealVerifier.from_files(office.ca_dir / "ca.crt", path)
    assert e.value.code == "revocation_list_unreadable"


def test_a_verifier_takes_newer_lists_only(office: Office, tmp_path: Path) -> None:
    """A reload after a ceremony applies the revocation; an older list cannot undo it."""
    seal = make_seal(office, tmp_path / "c")
    verifier = verifier_of(office)
    original = tmp_path / "original.crl"
    shutil.copy(office.ca_dir / REVOCATION_LIST_FILE, original)
    ceremony.destroy(
        office.ca_dir,
        office.presence("finance"),
        seal.serial,
        Reason.LOST,
        now=REVOKED_AT,
        approval=APPROVAL,
    )
    verify(verifier, seal, REVOKED_AT)  # the verifier still holds the list it was made with

    verifier.replace_revocations(office.ca_dir / REVOCATION_LIST_FILE)
    with pytest.raises(SealError) as e:
        verify(verifier, seal, REVOKED_AT)
    assert e.value.code == "seal_revoked"

    with pytest.raises(SealError, match="number 0 is older than the one in use") as e:
        verifier.replace_revocations(original)
    assert e.value.code == "revocation_list_stale"
    with pytest.raises(SealError) as e:
        verify(verifier, seal, REVOKED_AT)
    assert e.value.code == "seal_revoked"


def test_a_verification_seal_revoked_stops_printing_too(office: Office, tmp_path: Path) -> None:
    """§18, §35: the verification seal that signs print requests is revoked like any other."""
    seal = make_seal(office, tmp_path / "v", kind=SealKind.VERIFICATION)
    ceremony.destroy(
        office.ca_dir,
        office.presence("finance"),
        seal.serial,
        Reason.DAMAGED,
        now=REVOKED_AT,
        approval=APPROVAL,
    )
    verifier = verifier_of(office)
    verify(verifier, seal, REVOKED_AT - timedelta(seconds=1), SealKind.VERIFICATION)
    with pytest.raises(SealError) as e:
        verify(verifier, seal, REVOKED_AT, SealKind.VERIFICATION)
    assert e.value.code == "seal_revoked"
