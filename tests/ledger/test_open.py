"""Where `[router] ledger` points: a path as before, or a URL naming the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from docex.config import load_config
from docex.ledger.errors import LedgerError, LedgerUnavailable
from docex.ledger.location import LedgerLocationError, sqlite_file
from docex.ledger.open import open_ledger
from tests.core.test_config import MINIMAL


@pytest.mark.parametrize(
    ("location", "file"),
    [
        ("ledger.sqlite", "/etc/docex/ledger.sqlite"),
        ("../var/ledger.sqlite", "/etc/docex/../var/ledger.sqlite"),
        ("/srv/ledger.sqlite", "/srv/ledger.sqlite"),
        ("sqlite:///srv/ledger.sqlite", "/srv/ledger.sqlite"),
        ("sqlite:///srv/my%20ledger.sqlite", "/srv/my ledger.sqlite"),
        ("sqlite:var/ledger.sqlite", "/etc/docex/var/ledger.sqlite"),
        # Paths with a colon were paths before URLs were read, and stay so.
        ("backup:2026/ledger.sqlite", "/etc/docex/backup:2026/ledger.sqlite"),
    ],
)
def test_a_location_names_a_sqlite_file(location: str, file: str) -> None:
    assert sqlite_file(location, Path("/etc/docex")) == Path(file)


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("sqlite://host/ledger.sqlite", "a sqlite: URL names a file"),
        ("sqlite:", "a sqlite: URL names a file"),
    ],
)
def test_a_location_naming_no_sqlite_file_is_refused(location: str, problem: str) -> None:
    with pytest.raises(LedgerLocationError, match=problem):
        open_ledger(location)


def test_a_url_opens_the_same_ledger_as_its_path(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    writer = open_ledger(path)
    with writer.transaction():
        writer.enqueue("finance", "m1", "status")
    reader = open_ledger(f"sqlite://{path}", read_only=True)
    assert reader.outbox_depth() == 1
    reader.close()
    writer.close()


def test_the_config_resolves_a_relative_sqlite_url_beside_itself(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(MINIMAL + 'ledger = "sqlite:var/ledger.sqlite"\n')
    assert load_config(config).router.ledger == str(tmp_path.resolve() / "var" / "ledger.sqlite")


def test_a_postgresql_url_in_the_config_is_kept_as_given(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(MINIMAL + 'ledger = "postgresql://docex@db/ledger"\n')
    assert load_config(config).router.ledger == "postgresql://docex@db/ledger"


def test_a_postgresql_url_opens_a_postgresql_ledger(ledger_url: str) -> None:
    """The same URL opens the same ledger for a writer and for a reader beside it; the
    reader cannot write."""
    writer = open_ledger(ledger_url)
    with writer.transaction():
        writer.enqueue("finance", "m1", "status")
    reader = open_ledger(ledger_url, read_only=True)
    assert reader.outbox_depth() == 1
    with pytest.raises(LedgerError), reader.transaction():
        reader.enqueue("finance", "m2", "status")
    reader.close()
    writer.close()


def test_an_unreachable_postgresql_ledger_is_one_clear_line() -> None:
    with pytest.raises(LedgerUnavailable) as raised:
        open_ledger("postgresql://docex:secret@127.0.0.1:1/ledger?connect_timeout=2")
    message = str(raised.value)
    assert message.startswith("PostgreSQL at 127.0.0.1:1/ledger refused the connection"), message
    assert "secret" not in message
