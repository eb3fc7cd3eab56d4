"""Secrets systemd hands the router (`LoadCredential=` in systemd/docex-router.service).

systemd reads each credential as root and gives the router a private, read-only copy in
$CREDENTIALS_DIRECTORY, so the seal's password and the broker's need be readable by root
alone on disk, and never stand in a unit file or the config. Without that directory (a
router run by hand), the config's files and URL are used as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

import yarl

from docex.config import Config

SEAL_PASSWORD = "seal-password"
BROKER_PASSWORD = "broker-password"


def credential(name: str) -> Path | None:
    """The credential's file, if systemd gave the router one of that name."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory, name)
    return path if path.is_file() else None


def seal_password_file(config: Config) -> Path | None:
    """Where the exchange seal's password is read from; None when there is nowhere."""
    given = credential(SEAL_PASSWORD)
    if given is not None:
        return given
    return Path(config.router.seal_password_file) if config.router.seal_password_file else None


def amqp_urls(config: Config) -> list[str]:
    """The config's broker URLs (`amqp_url`, then the cluster's other nodes), with the
    password from the credential when there is one."""
    urls = [config.router.amqp_url, *config.router.amqp_urls]
    given = credential(BROKER_PASSWORD)
    if given is None:
        return urls
    password = given.read_text().strip()
    return [str(yarl.URL(url).with_password(password)) for url in urls]
