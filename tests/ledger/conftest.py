"""The ledger under test: every implementation of the port (docex/ledger/port.py) runs the
same contract tests. A new implementation is one more entry in IMPLEMENTATIONS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docex.ledger.open import open_ledger
from docex.ledger.port import Ledger

# Each opens a new, empty ledger of its kind in the test's own directory.
IMPLEMENTATIONS: dict[str, Callable[[Path], Ledger]] = {
    "sqlite": lambda directory: open_ledger(directory / "ledger.sqlite"),
}


@pytest.fixture(params=list(IMPLEMENTATIONS.values()), ids=list(IMPLEMENTATIONS))
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    opened = request.param(tmp_path)
    yield opened
    opened.close()
