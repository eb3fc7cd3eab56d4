"""The ledger under test: every implementation of the port (docex/ledger/port.py) runs the
same contract tests, whichever ledger the routers of the run keep (--ledger)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docex.ledger.open import open_ledger
from docex.ledger.port import Ledger
from tests.postgres import schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a new, empty ledger of each kind is: a file in the test's own directory, a
    schema of its own in the run's PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite")
        return
    with schema_url(request.getfixturevalue("postgres_database")) as url:
        yield url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = open_ledger(ledger_url)
    yield opened
    opened.close()
