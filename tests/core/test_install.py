"""`make install` into a temporary root: the layout, owners' modes and systemd units an
operator gets, and how exposed systemd rates each unit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = ("docex-router.service", "docex-mqtt@.service", "docex-hotfolder@.service")


def test_install_makes_the_layout_with_its_modes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = subprocess.run(
        ["make", "--no-print-directory", "install", f"DESTDIR={root}"],
        cwd=REPO,
        env={**os.environ, "INSTALL_VENV": "no"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    modes = {
        "etc/docex": 0o750,
        "etc/docex/credentials": 0o700,
        "etc/docex/router.toml": 0o640,
        "var/lib/docex": 0o700,
        "var/spool/docex": 0o750,
        "var/spool/docex/paper": 0o750,
        "opt/docex": 0o755,
        "usr/share/doc/docex/README.md": 0o644,
    }
    modes |= {f"etc/systemd/system/{unit}": 0o644 for unit in UNITS}
    found = {path: (root / path).stat().st_mode & 0o7777 for path in modes}
    assert found == modes
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_text() == (
            REPO / "systemd" / unit
        ).read_text()
    router = (root / "etc/docex/router.toml").read_text()
    assert router == (REPO / "config/production.toml").read_text()

    # Run again, an edited config stays as the operator left it.
    (root / "etc/docex/router.toml").write_text("# edited\n")
    again = subprocess.run(
        ["scripts/install"],
        cwd=REPO,
        env={**os.environ, "DESTDIR": str(root), "INSTALL_VENV": "no"},
        capture_output=True,
        timeout=120,
    )
    assert again.returncode == 0
    assert (root / "etc/docex/router.toml").read_text() == "# edited\n"


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_rates_each_unit_well_hardened(unit: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(REPO / "systemd" / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "--offline" in done.stderr:
        pytest.skip("this systemd-analyze cannot rate a unit file offline")
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert level is not None, done.stdout + done.stderr
    assert float(level.group(1)) <= 2.5, done.stdout


def test_the_router_reads_its_secrets_from_credentials_not_its_unit_file() -> None:
    text = (REPO / "systemd" / "docex-router.service").read_text()
    assert "LoadCredential=seal-password:" in text and "LoadCredential=broker-password:" in text
    assert not re.search(r"^Environment", text, re.M)


def test_the_example_mailbox_is_inside_the_adapters_writable_paths() -> None:
    mailbox = re.search(r'^mailbox = "(.+)"', (REPO / "config/unit-example.toml").read_text(), re.M)
    assert mailbox is not None
    for unit in ("docex-mqtt@.service", "docex-hotfolder@.service"):
        text = (REPO / "systemd" / unit).read_text().replace("%i", "finance")
        writable = re.search(r"^ReadWritePaths=(.+)$", text, re.M)
        assert writable is not None
        assert any(
            Path(mailbox.group(1)).is_relative_to(path) for path in writable.group(1).split()
        ), unit


def test_a_reload_is_checked_before_the_router_is_signalled() -> None:
    """systemd runs ExecReload= lines in order and stops at the first that fails: a config
    `docex config check` refuses fails `systemctl reload`, and no SIGHUP is sent."""
    text = (REPO / "systemd" / "docex-router.service").read_text()
    reloads = re.findall(r"^ExecReload=(.+)$", text, re.M)
    assert reloads == [
        "/usr/bin/env -u CREDENTIALS_DIRECTORY"
        " /opt/docex/.venv/bin/docex config check /etc/docex/router.toml",
        "/bin/kill -HUP $MAINPID",
    ]
    assert re.search(r"^ExecStart=.* --config /etc/docex/router.toml$", text, re.M)
