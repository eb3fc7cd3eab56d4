"""`docex config check` on the files of a unit's programs: the kind told by the keys, every
problem of the file and of the unit's file it names, in one run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def check(path: Path, *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "docex.cli", "config", "check", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, (done.stdout + done.stderr).splitlines()


def unit_file(folder: Path, extra: str = "") -> Path:
    for name in ("signing.carrier", "ca.crt"):
        (folder / name).write_bytes(b"x")
    path = folder / "unit.toml"
    path.write_text(
        'unit = "finance"\namqp_url = "amqp://docex-finance:pw@127.0.0.1:5672/"\n'
        'seal_carrier = "signing.carrier"\nca_certificate = "ca.crt"\n'
        f'mailbox = "mailboxes/finance.sqlite"\n{extra}'
    )
    return path


def test_a_good_unit_hot_folder_and_bridge_pass(tmp_path: Path) -> None:
    unit_file(tmp_path)
    (tmp_path / "hot.toml").write_text(
        'unit_settings = "unit.toml"\nfolder = "drop"\njournal = "state/journal.sqlite"\n'
    )
    (tmp_path / "bridge.toml").write_text('unit_settings = "unit.toml"\n[mqtt]\nport = 1883\n')
    assert check(tmp_path / "unit.toml") == (0, [f"{tmp_path / 'unit.toml'}: ok, unit settings"])
    assert check(tmp_path / "hot.toml")[0] == 0
    assert check(tmp_path / "bridge.toml") == (
        0,
        [f"{tmp_path / 'bridge.toml'}: ok, mqtt settings"],
    )


def test_every_problem_of_a_hot_folder_and_its_unit_is_named(tmp_path: Path) -> None:
    unit = unit_file(tmp_path, 'colour = "red"\n')
    unit.write_text(unit.read_text().replace('"finance"', "7", 1))
    (tmp_path / "a-file").write_text("")
    hot = tmp_path / "hot.toml"
    hot.write_text(
        'unit_settings = "unit.toml"\nfolder = "a-file/drop"\njournal = "j.sqlite"\n'
        'seal_password_file = "absent.password"\npoll_interval_ms = "fast"\n'
    )
    code, lines = check(hot)
    assert code == 2
    assert lines == [
        f"error: {hot}: poll_interval_ms: Expected `int`, got `str`",
        f"error: {unit}: unit: Expected `str`, got `int`",
        f"error: {unit}: colour: unknown key 'colour'",
        f"error: {hot}: folder: cannot write in {tmp_path / 'a-file' / 'drop'}:"
        f" {tmp_path / 'a-file'} is not a writable folder",
        f"error: {hot}: seal_password_file: cannot read {tmp_path / 'absent.password'}:"
        " No such file or directory",
    ]


def test_a_file_of_no_known_kind_asks_for_one(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('colour = "red"\n')
    assert check(other) == (2, [f"error: {other}: cannot tell what it configures; give --kind"])
    code, lines = check(other, "--kind", "unit")
    assert code == 2 and f"error: {other}: colour: unknown key 'colour'" in lines
