"""Seals end to end with real keys, real certificates and real carrier files."""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from docex.seals.ca import CertificateAuthority, create_ca
from docex.seals.carrier import read_carrier, write_carrier
from docex.seals.certificate import seal_identity, serial_hex
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.seal import CLOCK_SKEW, Seal, issue_seal, open_seal
from docex.seals.verify import SealVerifier

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
SEAL_PASSWORD = "unit-seal-口令"
DATA = b"canonical envelope header || sha256(content)"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    """In memory only: the CA directory, custody and ceremonies are tested in test_seal_*.py."""
    return create_ca("市府办公厅", now=NOW)


@pytest.fixture(scope="module")
def signing_seal(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Seal:
    path = tmp_path_factory.mktemp("seal") / "finance.seal"
    return issue_seal(ca, "finance", "市财政局", SealKind.SIGNING, path, SEAL_PASSWORD, now=NOW)


@pytest.fixture
def verifier(ca: CertificateAuthority) -> SealVerifier:
    return SealVerifier(ca.certificate)


def test_round_trip_issue_open_sign_verify(
    ca: CertificateAuthority, verifier: SealVerifier, tmp_path: Path
) -> None:
    for kind in SealKind:
        path = tmp_path / f"{kind}.seal"
        issued = issue_seal(ca, "health", "市卫生健康委员会", kind, path, SEAL_PASSWORD, now=NOW)
        seal = open_seal(path, SEAL_PASSWORD)
        assert (seal.unit_id, seal.kind, seal.serial) == ("health", kind, issued.serial)
        cert = verifier.verify(
            seal.certificate_der, DATA, seal.sign(DATA), unit_id="health", kind=kind, at=NOW
        )
        assert serial_hex(cert) == seal.serial
        assert seal_identity(cert) == ("health", kind)


def test_chinese_unit_name_round_trips_through_the_carrier(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    name = "市人民政府办公厅信息中心"
    issue_seal(ca, "info", name, SealKind.SIGNING, tmp_path / "s", SEAL_PASSWORD, now=NOW)
    opened = open_seal(tmp_path / "s", SEAL_PASSWORD).certificate
    assert [n.value for n in opened.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [name]


def test_seal_certificate_is_an_end_entity_issued_by_the_ca(
    ca: CertificateAuthority, signing_seal: Seal
) -> None:
    cert = signing_seal.certificate
    assert cert.issuer == ca.certificate.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_repeat_verification_still_checks_validity(
    signing_seal: Seal, verifier: SealVerifier
) -> None:
    der, signature = signing_seal.certificate_der, signing_seal.sign(DATA)
    for _ in range(2):
        verifier.verify(der, DATA, signature, unit_id="finance", kind=SealKind.SIGNING, at=NOW)
    later = signing_seal.certificate.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(SealError, match="expired") as e:
        verifier.verify(der, DATA, signature, unit_id="finance", kind=SealKind.SIGNING, at=later)
    assert e.value.code == "seal_expired"


def test_signing_and_verification_seals_do_not_stand_in_for_each_other(
    ca: CertificateAuthority, verifier: SealVerifier, tmp_path: Path
) -> None:
    """§18, §35: the signing seal seals documents, the verification seal signs print requests;
    neither is accepted where the other is required."""
    for kind, required in [
        (SealKind.SIGNING, SealKind.VERIFICATION),
        (SealKind.VERIFICATION, SealKind.SIGNING),
    ]:
        seal = issue_seal(ca, "finance", "市财政局", kind, tmp_path / kind, SEAL_PASSWORD, now=NOW)
        with pytest.raises(SealError, match=f"a {required} seal is required") as e:
            verifier.verify(
                seal.certificate_der,
                DATA,
                seal.sign(DATA),
                unit_id="finance",
                kind=required,
                at=NOW,
            )
        assert e.value.code == "seal_wrong_kind"


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"unit_id": "police"}, "seal_wrong_unit", "'finance', not 'police'"),
        ({"kind": SealKind.VERIFICATION}, "seal_wrong_kind", "verification seal is required"),
        ({"at": NOW - CLOCK_SKEW - timedelta(seconds=1)}, "seal_expired", "not yet valid"),
        ({"at": NOW + timedelta(days=3651)}, "seal_expired", "expired"),
        ({"data": DATA + b"!"}, "seal_bad_signature", "does not match"),
        ({"certificate_der": b"\x30\x03junk"}, "seal_untrusted", "not valid DER"),
    ],
)
def test_verify_rejects(
    signing_seal: Seal, verifier: SealVerifier, change: dict, code: str, message: str
) -> None:
    """§18: another unit's seal, the wrong kind, outside its validity, or not matching the
    document: none of them seals it."""
    call = {
        "certificate_der": signing_seal.certificate_der,
        "data": DATA,
        "signature": signing_seal.sign(DATA),
        "unit_id": "finance",
        "kind": SealKind.SIGNING,
        "at": NOW,
    } | change
    with pytest.raises(SealError, match=message) as e:
        verifier.verify(**call)
    assert e.value.code == code


def test_verify_rejects_a_seal_from_another_ca(verifier: SealVerifier, tmp_path: Path) -> None:
    rogue = create_ca("市府办公厅", now=NOW)
    key = Ed25519PrivateKey.generate()
    cert = rogue.issue("finance", "市财政局", SealKind.SIGNING, key.public_key(), not_before=NOW)
    der = cert.public_bytes(serialization.Encoding.DER)
    with pytest.raises(SealError, match="not issued by this exchange's CA") as e:
        verifier.verify(der, DATA, key.sign(DATA), unit_id="finance", kind=SealKind.SIGNING, at=NOW)
    assert e.value.code == "seal_untrusted"


def test_carrier_is_private_from_creation(ca: CertificateAuthority, tmp_path: Path) -> None:
    """§24: the carrier is kept by its custodian alone."""
    old_umask = os.umask(0)
    try:
        issue_seal(ca, "finance", "市财政局", SealKind.SIGNING, tmp_path / "s", "pw", now=NOW)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["s"]  # no temporary file left behind


def test_carrier_wrong_password(signing_seal: Seal, tmp_path: Path) -> None:
    """§24: the carrier alone, without the password its other custodian keeps, is useless."""
    path = tmp_path / "c"
    write_carrier(path, Ed25519PrivateKey.generate(), signing_seal.certificate, "right")
    with pytest.raises(SealError, match="wrong password") as e:
        read_carrier(path, "wrong")
    assert e.value.code == "carrier_bad_password"


def test_carrier_detects_a_swapped_certificate(
    ca: CertificateAuthority, signing_seal: Seal, tmp_path: Path
) -> None:
    path = tmp_path / "c"
    write_carrier(path, Ed25519PrivateKey.generate(), signing_seal.certificate, SEAL_PASSWORD)
    other = ca.issue(
        "police",
        "市公安局",
        SealKind.SIGNING,
        Ed25519PrivateKey.generate().public_key(),
        not_before=NOW,
    )
    document = json.loads(path.read_text())
    document["certificate"] = other.public_bytes(serialization.Encoding.PEM).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(SealError, match="certificate was replaced") as e:
        open_seal(path, SEAL_PASSWORD)
    assert e.value.code == "carrier_bad_password"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: b"\x00\xffnot json",
        lambda d: json.dumps(d | {"format": "docex-carrier/9"}).encode(),
        lambda d: json.dumps({k: v for k, v in d.items() if k != "nonce"}).encode(),
        lambda d: json.dumps(d | {"ciphertext": "%%%"}).encode(),
        lambda d: json.dumps(d | {"certificate": "-----BEGIN CERTIFICATE-----"}).encode(),
        lambda d: json.dumps(d | {"certificate": 5}).encode(),
        lambda d: json.dumps(d | {"kdf": d["kdf"] | {"n": 2**62}}).encode(),
        lambda d: json.dumps([d]).encode(),
    ],
    ids=[
        "binary",
        "format",
        "missing-field",
        "base64",
        "certificate",
        "certificate-type",
        "kdf-parameters",
        "not-an-object",
    ],
)
def test_carrier_corrupt(signing_seal: Seal, tmp_path: Path, damage) -> None:
    path = tmp_path / "c"
    write_carrier(path, Ed25519PrivateKey.generate(), signing_seal.certificate, SEAL_PASSWORD)
    path.write_bytes(damage(json.loads(path.read_text())))
    with pytest.raises(SealError) as e:
        read_carrier(path, SEAL_PASSWORD)
    assert e.value.code == "carrier_corrupt"


def test_missing_carrier_and_a_carrier_without_certificate_are_not_seals(
    signing_seal: Seal, tmp_path: Path
) -> None:
    with pytest.raises(SealError, match="cannot read carrier") as e:
        open_seal(tmp_path / "absent", SEAL_PASSWORD)
    assert e.value.code == "carrier_corrupt"
    # What the CA key's own carrier looked like before the key was split among custodians.
    path = tmp_path / "ca.key"
    write_carrier(path, Ed25519PrivateKey.generate(), signing_seal.certificate, SEAL_PASSWORD)
    path.write_text(json.dumps(json.loads(path.read_text()) | {"certificate": None}))
    with pytest.raises(SealError, match="holds no seal certificate") as e:
        open_seal(path, SEAL_PASSWORD)
    assert e.value.code == "carrier_corrupt"
