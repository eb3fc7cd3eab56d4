"""Seals end to end with real keys, real certificates and real carrier files."""

import argparse
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from seals.ca import CertificateAuthority, init_ca, load_ca_certificate, open_ca
from seals.carrier import read_carrier, write_carrier
from seals.certificate import seal_identity, serial_hex
from seals.cli import add_seal_commands
from seals.errors import SealError
from seals.kinds import SealKind
from seals.seal import CLOCK_SKEW, Seal, issue_seal, open_seal
from seals.verify import SealVerifier

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
CA_PASSWORD = "office-ca-口令"
SEAL_PASSWORD = "unit-seal-口令"
DATA = b"canonical envelope header || sha256(content)"


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ca")
    init_ca(directory, "市府办公厅", CA_PASSWORD, now=NOW)
    return directory


@pytest.fixture(scope="module")
def ca(ca_dir: Path) -> CertificateAuthority:
    return open_ca(ca_dir, CA_PASSWORD)


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
    rogue = init_ca(tmp_path / "rogue", "市府办公厅", CA_PASSWORD, now=NOW)
    key = Ed25519PrivateKey.generate()
    cert = rogue.issue("finance", "市财政局", SealKind.SIGNING, key.public_key(), not_before=NOW)
    der = cert.public_bytes(serialization.Encoding.DER)
    with pytest.raises(SealError, match="not issued by this exchange's CA") as e:
        verifier.verify(der, DATA, key.sign(DATA), unit_id="finance", kind=SealKind.SIGNING, at=NOW)
    assert e.value.code == "seal_untrusted"


def test_carrier_is_private_from_creation(
    ca: CertificateAuthority, ca_dir: Path, tmp_path: Path
) -> None:
    old_umask = os.umask(0)
    try:
        issue_seal(ca, "finance", "市财政局", SealKind.SIGNING, tmp_path / "s", "pw", now=NOW)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o600
    assert (ca_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["s"]  # no temporary file left behind


def test_carrier_wrong_password(signing_seal: Seal, tmp_path: Path) -> None:
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


def test_missing_carrier_and_ca_key_are_not_seals(ca_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SealError, match="cannot read carrier") as e:
        open_seal(tmp_path / "absent", SEAL_PASSWORD)
    assert e.value.code == "carrier_corrupt"
    with pytest.raises(SealError, match="holds no seal certificate") as e:
        open_seal(ca_dir / "ca.key", CA_PASSWORD)
    assert e.value.code == "carrier_corrupt"


def test_ca_init_refuses_an_existing_ca(ca_dir: Path) -> None:
    before = (ca_dir / "ca.key").read_bytes()
    with pytest.raises(SealError) as e:
        init_ca(ca_dir, "another", CA_PASSWORD, now=NOW)
    assert e.value.code == "ca_exists"
    assert (ca_dir / "ca.key").read_bytes() == before


def test_open_ca_errors(ca_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SealError) as e:
        open_ca(tmp_path, CA_PASSWORD)
    assert e.value.code == "ca_missing"
    with pytest.raises(SealError) as e:
        open_ca(ca_dir, "wrong")
    assert e.value.code == "carrier_bad_password"


def test_open_ca_refuses_a_key_that_does_not_match_its_certificate(
    ca_dir: Path, tmp_path: Path
) -> None:
    other = init_ca(tmp_path / "other", "其他", CA_PASSWORD, now=NOW)
    mixed = tmp_path / "mixed"
    shutil.copytree(ca_dir, mixed)
    (mixed / "ca.crt").write_bytes(other.certificate.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(SealError, match="does not hold the key of") as e:
        open_ca(mixed, CA_PASSWORD)
    assert e.value.code == "ca_missing"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """Parse like the main CLI would and call the handler; argv is split on spaces."""
    parser = argparse.ArgumentParser(prog="docex")
    add_seal_commands(parser.add_subparsers(dest="command", required=True))

    def run(command: str) -> tuple[int, str, str]:
        args = parser.parse_args(command.split())
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_end_to_end(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCEX_CA_PASSWORD", CA_PASSWORD)
    monkeypatch.setenv("DOCEX_SEAL_PASSWORD", SEAL_PASSWORD)
    ca_dir, carrier = tmp_path / "ca", tmp_path / "print.seal"
    issue = f"seal issue --ca-dir {ca_dir} --unit edu --unit-name 市教育局 --kind verification"

    assert run(f"seal ca-init --dir {ca_dir} --name 市府办公厅")[0] == 0
    code, out, _ = run(f"{issue} --out {carrier}")
    assert code == 0
    seal = open_seal(carrier, SEAL_PASSWORD)
    assert seal.serial in out
    assert str(carrier) in out
    SealVerifier(load_ca_certificate(ca_dir / "ca.crt")).verify(
        seal.certificate_der,
        DATA,
        seal.sign(DATA),
        unit_id="edu",
        kind=SealKind.VERIFICATION,
        at=datetime.now(UTC),
    )

    code, _, err = run(f"seal ca-init --dir {ca_dir} --name again")
    assert (code, err.split(": ")[0:2]) == (2, ["error", "ca_exists"])
    code, _, err = run(f"{issue} --out {carrier}")
    assert (code, err) == (2, f"error: refusing to overwrite existing carrier {carrier}\n")

    monkeypatch.setenv("DOCEX_CA_PASSWORD", "wrong")
    code, _, err = run(f"{issue} --out {tmp_path / 'other.seal'}")
    assert (code, err.split(": ")[0:2]) == (2, ["error", "carrier_bad_password"])
    assert not (tmp_path / "other.seal").exists()


def test_cli_passwords_from_file_and_prompt(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCEX_CA_PASSWORD", raising=False)
    answers = iter(["typed", "mistyped"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    code, _, err = run(f"seal ca-init --dir {tmp_path / 'a'} --name 市府办公厅")
    assert (code, err) == (2, "error: the two passwords differ\n")
    assert not (tmp_path / "a" / "ca.key").exists()

    (tmp_path / "pw").write_text(CA_PASSWORD + "\n")
    code, _, _ = run(
        f"seal ca-init --dir {tmp_path / 'b'} --name 市府办公厅 --password-file {tmp_path / 'pw'}"
    )
    assert code == 0
    open_ca(tmp_path / "b", CA_PASSWORD)


def test_cli_rejects_a_name_too_long_for_a_certificate(run, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as e:
        run(f"seal ca-init --dir {tmp_path} --name {'市' * 22}")
    assert e.value.code == 2
