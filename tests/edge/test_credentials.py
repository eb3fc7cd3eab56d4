"""Under systemd the router's secrets come as credentials (LoadCredential=): neither the seal's
password nor the broker's needs to stand in the config or a unit file."""

from __future__ import annotations

from pathlib import Path

import pytest

from docex.config import load_config
from docex.router.service import Router
from tests.conftest import SEAL_PASSWORD, FakeClock


async def test_the_router_starts_on_the_passwords_systemd_hands_it(
    config_file: Path,
    clock: FakeClock,
    empty_queues: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "seal-password").write_text(SEAL_PASSWORD)
    (credentials / "broker-password").write_text("guest\n")
    text = config_file.read_text()
    text = text.replace("amqp://guest:guest@", "amqp://guest@")
    text = "\n".join(line for line in text.splitlines() if "seal_password_file" not in line)
    config_file.write_text(text)
    # What systemd sets for a service with LoadCredential=.
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    router = Router(load_config(config_file), clock, config_path=config_file)
    await router.start()
    try:
        assert router.broker_connected()
    finally:
        await router.stop(flush_timeout=2)

    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(Exception, match="no seal-password credential"):
        Router(load_config(config_file), clock, config_path=config_file)
