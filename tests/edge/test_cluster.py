"""Several routers on one PostgreSQL ledger share one exchange (docex/router/cluster.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from docex import wire
from docex.config import Config, load_config
from docex.ledger.open import open_ledger
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory, eventually, write_router_config
from tests.documents import sealed_envelope, submit
from tests.edge.test_routing import delivered
from tests.postgres import schema_url


@pytest.fixture
def shared_config(
    tmp_path: Path, prefix: str, pki: Pki, postgres_database: str
) -> Iterator[tuple[Config, Path]]:
    with schema_url(postgres_database) as url:
        path = write_router_config(tmp_path / "router.toml", prefix, pki, url)
        yield load_config(path), path


@pytest_asyncio.fixture
async def routers(
    shared_config: tuple[Config, Path], clock: FakeClock, empty_queues_for: None
) -> AsyncIterator[list[Router]]:
    config, path = shared_config
    started: list[Router] = []
    try:
        for name in ("router-a", "router-b"):
            router = Router(config, clock, config_path=path, router_id=name)
            await router.start()
            started.append(router)
        yield started
    finally:
        for router in started:
            with contextlib.suppress(Exception):
                await router.stop(flush_timeout=2.0)


@pytest.fixture
def empty_queues_for(shared_config: tuple[Config, Path]) -> None:
    """Nothing: every test run has its own prefix, and so its own queues."""


@pytest.mark.timeout(300)
async def test_two_routers_split_the_units_and_every_document_arrives_once(
    routers: list[Router], unit_client_for: UnitClientFactory, pki: Pki
) -> None:
    a, b = routers
    await eventually(
        lambda: len(a.cluster.owned) == len(b.cluster.owned) == 8 or None,
        "the 16 partitions shared 8 and 8",
        timeout=20,
    )
    assert not a.cluster.owned & b.cluster.owned
    assert [a.cluster.leader, b.cluster.leader].count(True) == 1
    reader = open_ledger(a.config.router.ledger, read_only=True)
    await eventually(
        lambda: sorted(len(r.partitions) for r in reader.routers()) == [8, 8] or None,
        "both routers reported their share",
    )
    reader.close()
    shown = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "docex.cli", "router", "status", "--config", str(a.config_path)],
        stdout=asyncio.subprocess.PIPE,
    )
    status = (await shown.communicate())[0].decode()
    leader = "router-a" if a.cluster.leader else "router-b"
    assert f"{leader}: leader, 8 of 16 partitions" in status, status
    assert status.count(": member, 8 of 16 partitions") == 1, status

    async with contextlib.AsyncExitStack() as stack:
        units: dict[str, UnitClient] = {
            unit: await stack.enter_async_context(unit_client_for(unit))
            for unit in ("gov-office", "finance", "education")
        }
        sent = []
        for _ in range(20):
            envelope = sealed_envelope(
                pki.signing["gov-office"],
                to=["finance"],
                cc=["education"],
                print_quota={"finance": 1, "education": 1},
            )
            answer = await units["gov-office"].request(submit(envelope))
            assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
            sent.append(envelope.id)
        for doc_id in sent:
            await delivered(units["finance"], doc_id)
            await delivered(units["education"], doc_id)
        for unit in ("finance", "education"):
            ids = [d.deliver.envelope.id for d in units[unit].mailbox.deliveries()]
            assert sorted(ids) == sorted(sent)  # each once

        # One router leaves: the other takes every unit, and documents go on.
        await a.stop(flush_timeout=2.0)
        await eventually(lambda: len(b.cluster.owned) == 16 or None, "b owns all", timeout=20)
        await eventually(lambda: b.cluster.leader or None, "b leads", timeout=20)
        envelope = sealed_envelope(
            pki.signing["gov-office"], to=["finance"], print_quota={"finance": 1}
        )
        answer = await units["gov-office"].request(submit(envelope))
        assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
        await delivered(units["finance"], envelope.id)

    ledger = open_ledger(a.config.router.ledger, read_only=True)
    assert ledger.outbox_depth() == 0
    assert dict(ledger.deliveries_by_state())["delivered"] == 41
    ledger.close()
