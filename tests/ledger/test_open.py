"""Where `[router] ledger` points: a path as before, or a URL naming the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from docex.config import ConfigError, load_config
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
        ("postgresql://docex@db/ledger", "a PostgreSQL ledger is not built yet"),
        ("postgres://db/ledger", "a PostgreSQL ledger is not built yet"),
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


def test_a_postgresql_ledger_in_the_config_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(MINIMAL + 'ledger = "postgresql://docex@db/ledger"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert str(raised.value) == (
        f"{config}: line 6: router.ledger: postgresql://docex@db/ledger:"
        " a PostgreSQL ledger is not built yet; give a SQLite file instead"
    )
