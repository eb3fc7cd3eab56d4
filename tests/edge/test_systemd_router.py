"""The router's unit under a real systemd (tests/systemd_box.py): installed by scripts/install,
started hardened as it ships, reloaded, and rated by `systemd-analyze security` online.

The box sees the machine's files through overlays, so the install lands in the box alone. Its
one stand-in is the venv: scripts/install would build /opt/docex/.venv with pip from the
network, so the box gets a venv of the system's Python that imports this checkout's packages.
"""

from __future__ import annotations

import re
import site
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SEAL_PASSWORD, Pki, write_router_config
from tests.systemd_box import BoxUnavailable, SystemdBox, booted

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
UNIT = "docex-router.service"
DOCEX = "/opt/docex/.venv/bin/docex"
CONFIG = "/etc/docex/router.toml"


@pytest.fixture
def box() -> Iterator[SystemdBox]:
    try:
        with booted() as box:
            yield box
    except BoxUnavailable as exc:
        pytest.skip(f"no private systemd here: {exc}")


def install(box: SystemdBox, tmp_path: Path) -> None:
    """`scripts/install` as an operator runs it (as root, no DESTDIR), less pip's venv."""
    box.check("env", "INSTALL_VENV=no", "scripts/install", cwd=str(REPO))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not (SYSTEM_PYTHON.parent / version).exists():
        pytest.skip(f"{SYSTEM_PYTHON} is not {version}: it cannot import this venv's packages")
    packages = site.getsitepackages()[0]
    box.check(str(SYSTEM_PYTHON), "-m", "venv", "/opt/docex/.venv")
    # The unit hides /root and /home (ProtectHome=) and has a /tmp of its own (PrivateTmp=),
    # where a checkout and its venv may well be: the router gets copies of this venv's
    # packages and of this checkout's docex under /opt (an overlay of the box's own).
    copied = "/opt/docex/checkout-packages"
    box.check("cp", "-a", packages, copied)
    box.check("sh", "-c", f"rm -f {copied}/__editable__*")
    box.check("cp", "-a", str(REPO / "docex"), f"{copied}/docex")
    pth = tmp_path / "docex-checkout.pth"
    pth.write_text(f"import site; site.addsitedir({copied!r})\n")
    script = tmp_path / "docex"
    script.write_text(
        "#!/opt/docex/.venv/bin/python\nimport sys\nfrom docex.cli import main\nsys.exit(main())\n"
    )
    box.check("install", "-m", "0644", str(pth), f"/opt/docex/.venv/lib/{version}/site-packages/")
    box.check("install", "-m", "0755", str(script), DOCEX)


def configure(box: SystemdBox, prefix: str, pki: Pki, tmp_path: Path) -> None:
    """A router of this test run with its files where production.toml puts them: the seal's
    password and the broker's only as credentials (LoadCredential=), the ledger made by
    `docex ledger init` as the docex user."""
    staged = tmp_path / "staged"
    staged.mkdir()
    text = write_router_config(staged / "router.toml", prefix, pki, tmp_path / "ledger.sqlite")
    config = text.read_text()
    for host, installed in (
        (tmp_path / "ledger.sqlite", "/var/lib/docex/ledger.sqlite"),
        (pki.directory / "exchange.carrier", "/etc/docex/seals/exchange.carrier"),
        (pki.ca_certificate, "/etc/docex/ca/ca.crt"),
    ):
        config = config.replace(str(host), installed)
    config = re.sub(r"^seal_password_file = .*\n", "", config, flags=re.M)
    config = config.replace("[links]\n", '[links]\nspool_dir = "/var/spool/docex/paper"\n')
    config = config.replace("amqp://guest:guest@", "amqp://guest@")
    (staged / "router.toml").write_text(config)
    (staged / "seal-password").write_text(SEAL_PASSWORD)
    (staged / "broker-password").write_text("guest")
    for source, target, mode, group in (
        (staged / "router.toml", CONFIG, "0640", "docex"),
        (pki.directory / "exchange.carrier", "/etc/docex/seals/exchange.carrier", "0640", "docex"),
        (pki.ca_certificate, "/etc/docex/ca/ca.crt", "0640", "docex"),
        (staged / "seal-password", "/etc/docex/credentials/seal-password", "0600", "root"),
        (staged / "broker-password", "/etc/docex/credentials/broker-password", "0600", "root"),
    ):
        box.check("install", "-m", mode, "-g", group, str(source), target)
    box.check("runuser", "-u", "docex", "--", DOCEX, "ledger", "init", "--config", CONFIG)


def exposure(box: SystemdBox) -> float:
    rated = box.check("systemd-analyze", "security", "--no-pager", UNIT)
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", rated)
    assert level is not None, rated
    return float(level.group(1))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_installed_router_runs_hardened_under_systemd(
    box: SystemdBox, prefix: str, pki: Pki, broker_users: Path, tmp_path: Path
) -> None:
    """As README's "Running it for real" has it: install, `systemctl start`, a reload of a
    broken config that `systemctl reload` itself refuses while the router runs on, and the
    rating `systemd-analyze security` gives the unit on a running systemd."""
    install(box, tmp_path)
    configure(box, prefix, pki, tmp_path)

    started = box.run("systemctl", "start", UNIT)
    journal = box.run("journalctl", "--no-pager", "-u", UNIT).stdout
    assert started.returncode == 0, started.stderr + journal
    assert box.run("systemctl", "is-active", UNIT).stdout.strip() == "active"
    assert box.check("systemctl", "show", "-P", "User", UNIT).strip() == "docex"

    reloaded = box.run("systemctl", "reload", UNIT)
    assert reloaded.returncode == 0, box.run("journalctl", "--no-pager", "-u", UNIT).stdout
    box.check("sed", "-i", "s/^\\[router\\]$/[router]\\nno_such_key = 1/", CONFIG)
    refused = box.run("systemctl", "reload", UNIT)
    assert refused.returncode != 0, "systemctl reload took a broken config"
    assert box.run("systemctl", "is-active", UNIT).stdout.strip() == "active"
    journal = box.run("journalctl", "--no-pager", "-u", UNIT).stdout
    assert "no_such_key" in journal, journal

    assert exposure(box) <= 2.5

    box.check("systemctl", "stop", UNIT)
    assert box.check("systemctl", "show", "-P", "Result", UNIT).strip() == "success"
