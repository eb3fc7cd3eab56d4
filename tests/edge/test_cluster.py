"""Several routers on one PostgreSQL ledger share one exchange (docex/router/cluster.py)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import generate_latest

from docex import wire
from docex.config import Config, load_config
from docex.ledger.errors import LedgerError
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

        # Only the leader exports what the ledger holds; each router its own counters.
        leader, member = (a, b) if a.cluster.leader else (b, a)
        assert "docex_deliveries{" in generate_latest(leader.metrics.registry).decode()
        assert "docex_deliveries{" not in generate_latest(member.metrics.registry).decode()
        assert "docex_leader 1.0" in generate_latest(leader.metrics.registry).decode()

        # §9(一): a rename, reloaded by both routers, is recorded once for the exchange.
        config_path = a.config_path
        assert config_path is not None
        config_path.write_text(config_path.read_text().replace("市财政局", "市财政委员会", 1))
        assert await a.reload() and await b.reload()
        reader = open_ledger(a.config.router.ledger, read_only=True)
        assert [new for _, new, _ in reader.unit_names("finance")] == ["市财政委员会"]
        reader.close()

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


def leaders(url: str) -> dict[str, bool]:
    try:
        ledger = open_ledger(url, read_only=True)
        try:
            return {r.id: r.leader for r in ledger.routers() if r.seen_ago_s < 5}
        finally:
            ledger.close()
    except LedgerError:
        return {}  # no router has made the schema yet


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_frozen_leader_loses_its_lease_and_resumed_writes_nothing(
    shared_config: tuple[Config, Path], empty_queues_for: None, tmp_path: Path
) -> None:
    """SIGSTOP the leader: within 30 s the server has ended its sessions and another router
    leads; resumed, the old leader finds its lease gone and leads no more."""
    config, path = shared_config
    url = config.router.ledger
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    command = [sys.executable, "-m", "docex.cli", "router", "run", "--config", str(path)]
    first = await asyncio.create_subprocess_exec(
        *command, stdout=logs[0].open("wb"), stderr=subprocess.STDOUT
    )
    second = None
    try:
        await eventually(lambda: list(leaders(url).values()) == [True] or None, "a leads", 60)
        [old] = leaders(url)
        second = await asyncio.create_subprocess_exec(
            *command, stdout=logs[1].open("wb"), stderr=subprocess.STDOUT
        )
        await eventually(lambda: len(leaders(url)) == 2 or None, "both report", 60)

        first.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        new = await eventually(
            lambda: next((r for r, lead in leaders(url).items() if lead and r != old), None),
            "another router leads",
            60,
        )
        took = time.monotonic() - frozen_at
        assert took < 30, f"the lease moved after {took:.0f} s"

        first.send_signal(signal.SIGCONT)
        await eventually(
            lambda: leaders(url).get(old) is False or None, "the old leader stands down", 30
        )
        assert leaders(url)[new] is True
        log = logs[0].read_text()
        assert "cluster_session_lost" in log, log[-2000:]
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
                await asyncio.wait_for(process.wait(), 30)
