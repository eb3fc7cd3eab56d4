"""Two routers on one PostgreSQL ledger (tests/races/harness.py), in a schema of the test's own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from docex.config import load_config
from tests.conftest import FakeClock, Pki, write_router_config
from tests.postgres import schema_url
from tests.races.harness import Exchange, close_exchange, open_exchange

# Each race is forced this many times, taking turns on which side goes first. SCALE.md §6 T1
# asks for 100: DOCEX_RACE_REPETITIONS=100.
REPETITIONS = int(os.environ.get("DOCEX_RACE_REPETITIONS", "20"))


@pytest.fixture
def race_url(postgres_database: str) -> Iterator[str]:
    with schema_url(postgres_database) as url:
        yield url


def exchange_for(
    request: pytest.FixtureRequest,
    url: str,
    tmp_path: Path,
    prefix: str,
    pki: Pki,
    clock: FakeClock,
) -> Iterator[Exchange]:
    links_at_commit = getattr(request, "param", "inline") == "links_at_commit"
    config = load_config(write_router_config(tmp_path / "router.toml", prefix, pki, url))
    exchange = open_exchange(url, config, pki, prefix, clock, links_at_commit)
    try:
        yield exchange
    finally:
        close_exchange(exchange)


@pytest.fixture
def exchange(
    request: pytest.FixtureRequest,
    race_url: str,
    tmp_path: Path,
    prefix: str,
    pki: Pki,
    clock: FakeClock,
) -> Iterator[Exchange]:
    """Two routers on one ledger. Tests whose two commands come from one unit parametrise it
    indirectly with "inline" (today's `links` upsert per command) and "links_at_commit"."""
    yield from exchange_for(request, race_url, tmp_path, prefix, pki, clock)
