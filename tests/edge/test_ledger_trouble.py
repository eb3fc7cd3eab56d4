"""The ledger in trouble: locked by another process, on a full disk, or wanted by a second
router. The router keeps answering, says truthfully whether it can route and why not, and
delivers every document exactly once when the trouble ends, without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from docex import wire
from docex.config import load_config
from docex.ids import uuid7
from docex.ledger.admin import init_ledger
from docex.ledger.sqlite import SqliteLedger
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import FakeClock, Pki, UnitClientFactory, eventually
from tests.documents import PDF, sealed_envelope, submit
from tests.edge.test_faults import Inbox, start_router, watch_queue
from tests.edge.test_operations import edit, get, readiness, router_status

# Longer than the 5 s SQLite waits for a lock by default, which the router used to sit out on
# its event loop.

# Looks into the SQLite file itself (locks, full disk, rows).
pytestmark = pytest.mark.sqlite_only

LOCK_HELD_S = 6.0


@dataclass
class Site:
    router: Router
    port: int
    pki: Pki
    office: UnitClient
    # Every copy the broker hands finance, counted before any deduplication.
    finance: Inbox

    async def send(self, count: int, padding: int = 0) -> list[wire.Envelope]:
        """Send from gov-office to finance without waiting for the answers; `padding` random
        bytes make each body bigger, and different (the ledger keeps a body once)."""
        envelopes = [
            sealed_envelope(self.pki.signing["gov-office"], content=PDF + os.urandom(padding))
            for _ in range(count)
        ]
        await asyncio.gather(
            *(self.office.publish(submit(envelope), uuid7()) for envelope in envelopes)
        )
        return envelopes

    async def delivered(self, count: int, what: str) -> None:
        await eventually(lambda: len(self.finance.copies) >= count, what, timeout=30)

    def retries(self, writer: str, reason: str) -> float:
        """How often `writer`'s commits were refused for `reason` and tried again."""
        labels = {"writer": writer, "reason": reason}
        value = self.router.metrics.registry.get_sample_value(
            "docex_ledger_write_retries_total", labels
        )
        return value or 0.0

    def delivered_once(self, envelopes: list[wire.Envelope]) -> None:
        assert set(self.finance.copies) == {envelope.id for envelope in envelopes}
        twice = {doc: ids for doc, ids in self.finance.copies.items() if len(ids) != 1}
        assert twice == {}, "delivered more than once"


@contextlib.contextmanager
def operator_holding(ledger: Path) -> Iterator[None]:
    """An operator's sqlite3 shell in a write transaction on the ledger while the block runs."""
    operator = sqlite3.connect(ledger, isolation_level=None)
    operator.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        operator.execute("ROLLBACK")
        operator.close()


async def docex(*args: str) -> tuple[int, str]:
    """An operator's command in a process of its own: its exit status and all it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docex.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, output.decode()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest_asyncio.fixture
async def site(
    config_file: Path,
    ledger_path: Path,
    tmp_path: Path,
    clock: FakeClock,
    pki: Pki,
    empty_queues: None,
    free_port: int,
    unit_client_for: UnitClientFactory,
) -> AsyncIterator[Site]:
    edit(config_file, "metrics_port = 0", f"metrics_port = {free_port}")
    edit(config_file, f'ledger = "{tmp_path / "ledger.sqlite"}"', f'ledger = "{ledger_path}"')
    if not ledger_path.exists():
        init_ledger(ledger_path)
    config = load_config(config_file)
    router = Router(config, clock, config_path=config_file)
    await router.start()
    inbox = Inbox(0)
    watcher = await watch_queue(config, "finance", inbox)
    try:
        async with unit_client_for("gov-office") as office:
            yield Site(router, free_port, pki, office, inbox)
    finally:
        await watcher.close()
        await router.stop(flush_timeout=2)


@pytest.mark.slow
async def test_a_lock_held_elsewhere_is_waited_out_without_freezing_the_router(
    site: Site, ledger_path: Path
) -> None:
    """An operator's sqlite3 shell holds a write transaction for longer than SQLite's busy wait
    while documents flow: the router keeps answering, is not ready and says the ledger is
    locked, and once the lock goes delivers every document exactly once."""
    flowing = await site.send(300)
    await site.delivered(30, "the first deliveries")

    with capture_logs() as logs:
        with operator_holding(ledger_path):
            locked_at = time.monotonic()
            during = await site.send(5)
            slowest = 0.0
            readyz: list[tuple[float, int, str]] = []
            while (held := time.monotonic() - locked_at) < LOCK_HELD_S:
                for path in ("/healthz", "/metrics", "/readyz"):
                    asked = time.monotonic()
                    status, body = await get(site.port, path)
                    slowest = max(slowest, time.monotonic() - asked)
                    if path == "/readyz":
                        readyz.append((held, status, body))
                    else:
                        assert status == 200, path
            # Noticed within one probe interval at most, and said until the lock goes.
            noticed = [(status, body) for held, status, body in readyz if held > 2.5]
            assert noticed and all(status == 503 for status, _ in noticed), readyz
            assert all(re.search(r"^ledger: .*locked", body, re.M) for _, body in noticed)
            # Commits wait for the lock, in intake and in the outbox's bookkeeping alike.
            assert site.retries("intake", "locked") and site.retries("outbox", "locked")
            # Nothing sent during the lock could be committed, so none of it went out.
            assert not {envelope.id for envelope in during} & set(site.finance.copies)
        assert slowest < 0.5, f"the event loop stood still for {slowest:.1f} s"

        await site.delivered(len(flowing) + len(during), "every delivery")
        assert (await readiness(site.port, 200)).startswith("ready\n")
    site.delivered_once(flowing + during)
    # Said once when it began and once when it ended, however many retries came between.
    episode = [entry for entry in logs if entry["event"].startswith("ledger_")]
    assert [entry["event"] for entry in episode] == ["ledger_unwritable", "ledger_writable"]
    assert episode[0]["reason"] == "locked" and episode[1]["after_s"] > LOCK_HELD_S - 1


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A file system of its own, to fill up: room for a few batches of big documents."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def fill(directory: Path, leave: int = 0) -> Path:
    """A file that takes every byte left on the file system but `leave`."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, bytes(65536))
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC
    finally:
        os.close(descriptor)
    os.truncate(filler, filler.stat().st_size - leave)
    return filler


class TestFullDisk:
    @pytest.fixture
    def ledger_path(self, small_disk: Path) -> Path:
        return small_disk / "ledger.sqlite"

    async def test_a_full_disk_makes_the_router_unready_until_space_returns(
        self, site: Site, small_disk: Path
    ) -> None:
        """Ready means the ledger can commit: a full disk is reported with its reason, and
        the documents sent meanwhile are delivered once there is room again."""
        before = await site.send(1)
        await site.delivered(1, "the first delivery")

        filler = fill(small_disk)
        try:
            # Bigger together than the write-ahead log, which commits may reuse.
            during = await site.send(6, padding=100_000)
            await eventually(
                lambda: site.retries("intake", "disk_full"),
                "intake to hold its batch, waiting for room",
            )
            body = await readiness(site.port, 503)
            assert re.search(r"^ledger: .*disk is full", body, re.M), body
        finally:
            filler.unlink()

        assert (await readiness(site.port, 200, timeout=20)).startswith("ready\n")
        await site.delivered(7, "the documents sent while the disk was full")
        site.delivered_once(before + during)

    async def test_a_batch_too_big_for_the_room_left_waits_whole(
        self, site: Site, small_disk: Path, ledger_path: Path
    ) -> None:
        """A batch bigger than SQLite's page cache hits the full disk inside a command, and
        SQLite rolls the whole transaction back. The batch waits whole: no command in it is
        refused for the ledger's trouble, and every document arrives once there is room."""
        before = await site.send(1)
        await site.delivered(1, "the first delivery")
        # Gather one big batch behind a small one while an operator holds the ledger.
        with operator_holding(ledger_path):
            small = await site.send(1)
            await eventually(
                lambda: site.retries("intake", "locked"), "intake to hold the small batch"
            )
            big = await site.send(25, padding=100_000)
            await eventually(lambda: len(site.router._intake) == 25, "the big batch to gather")
            # Room for the small batch, not for the big one.
            filler = fill(small_disk, leave=512 * 1024)
        try:
            await eventually(
                lambda: site.retries("intake", "disk_full"),
                "intake to hold the big batch, waiting for room",
            )
        finally:
            filler.unlink()
        await site.delivered(27, "every document, once there was room")
        site.delivered_once(before + small + big)


async def test_a_second_router_on_the_same_ledger_refuses_to_start(
    config_file: Path,
    ledger_path: Path,
    empty_queues: None,
    free_port: int,
    pki: Pki,
    tmp_path: Path,
    unit_client_for: UnitClientFactory,
) -> None:
    """Two routers on one ledger would take turns locking it; the second one says so and
    stops, while the first goes on routing and operators' read-only tools still work."""
    edit(config_file, "metrics_port = 0", f"metrics_port = {free_port}")
    first = start_router(config_file, tmp_path / "first.log")
    try:
        await readiness(free_port, 200, timeout=30)
        code, output = await docex("router", "run", "--config", str(config_file))
        assert code == 2
        [line] = output.splitlines()
        assert str(ledger_path) in line and f"pid {first.pid}" in line, line

        async with unit_client_for("gov-office") as office, unit_client_for("finance") as finance:
            envelope = sealed_envelope(pki.signing["gov-office"])
            answer = await office.request(submit(envelope))
            assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
            await finance.wait_for(lambda: finance.mailbox.delivery(envelope.id), timeout=10)
        code, status = await router_status(config_file)
        assert code == 0 and "router:  ready" in status, status
        assert await docex("notices", "list", "--config", str(config_file)) == (
            0,
            "no paper notices\n",
        )

        # kill -9 leaves no lock behind: the next router starts.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        first = start_router(config_file, tmp_path / "after-kill.log")
        await readiness(free_port, 200, timeout=30)
    finally:
        first.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            first.wait(timeout=30)
        if first.returncode is None:
            first.kill()


async def test_a_router_started_while_the_ledger_is_held_says_so_in_one_line(
    config_file: Path, ledger_path: Path
) -> None:
    """An operator's sqlite3 shell in a write transaction when the router starts: one line
    that names the ledger and what to do, no traceback; systemd starts it again later."""
    SqliteLedger(ledger_path).close()
    with operator_holding(ledger_path):
        code, output = await docex("router", "run", "--config", str(config_file))
    assert code == 2
    [line] = output.splitlines()
    assert str(ledger_path) in line and "locked" in line and "sqlite3 shell" in line, line
