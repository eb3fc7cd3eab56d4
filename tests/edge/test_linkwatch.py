"""Link watch and the paper fallback (§46, §47) against a real router, RabbitMQ, ledger and PDFs.

The clock is a FakeClock: tests jump hours and call `linkwatch.check()` instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from docex import wire
from docex.config import load_config
from docex.router import paper
from docex.router.handler import Inbound, Verdict
from docex.router.linkwatch import LinkWatch
from docex.router.service import Router
from docex.unit.client import UnitClient
from tests.conftest import (
    BROKER,
    REVOKED_UNIT,
    UNITS,
    FakeClock,
    Pki,
    UnitClientFactory,
    amqp_user,
    eventually,
)
from tests.documents import sealed_envelope, submit

# The defaults of [links].
HEARTBEAT_TIMEOUT = timedelta(seconds=120)
QUEUE_TIMEOUT = timedelta(hours=4)
SECOND = timedelta(seconds=1)


@dataclass
class Site:
    """One exchange: its units' clients, and routers started one after another on the same
    config and ledger, as restarts would."""

    config_file: Path
    clock: FakeClock
    pki: Pki
    units: dict[str, UnitClient]
    router: Router

    async def restart(self) -> None:
        await self.router.stop(flush_timeout=2)
        self.router = Router(load_config(self.config_file), self.clock, self.config_file)
        await self.router.start()

    def later(self, delta: timedelta) -> None:
        self.clock.current += delta

    def check(self) -> None:
        self.router.linkwatch.check()

    async def beat(self, *units: str) -> None:
        """These units' adapters are alive: the router hears a heartbeat from each, now."""
        now = self.router.handler.calendar.stamp(self.clock.now())
        for unit in units:
            await self.units[unit].heartbeat()
            await self.heard(unit, now)

    async def heard(self, unit: str, at: str) -> None:
        def seen() -> bool:
            link = self.router.ledger.link(unit)
            return link is not None and link.last_seen_at == at

        await eventually(seen, f"the router to hear from {unit}")

    async def send(self, sender: str, **headers: object) -> wire.Envelope:
        """Send a document and wait until the broker has it in every recipient's queue."""
        envelope = sealed_envelope(self.pki.signing[sender], sender=sender, **headers)  # type: ignore[arg-type]
        answer = await self.units[sender].request(submit(envelope))
        assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
        await eventually(
            lambda: all(d.state == "delivered" for d in self.router.ledger.deliveries(envelope.id)),
            f"{envelope.title} to be delivered",
        )
        return envelope

    def state(self, envelope: wire.Envelope, recipient: str) -> str:
        delivery = self.router.ledger.delivery(envelope.id, recipient)
        assert delivery is not None
        return delivery.state

    async def notices(self, unit: str, kind: str, count: int = 1) -> list[wire.Notice]:
        client = self.units[unit]

        def found() -> list[wire.Notice] | None:
            notices = [n for n in client.mailbox.notices() if n.kind == kind]
            return notices if len(notices) >= count else None

        return await client.wait_for(found, timeout=10)

    async def news(self, sender: str, envelope: wire.Envelope, state: str) -> wire.Status:
        client = self.units[sender]
        return await client.wait_for(
            lambda: next(
                (s for s in client.mailbox.statuses(envelope.id) if s.state == state), None
            ),
            timeout=10,
        )

    def metric(self, name: str, **labels: str) -> float | None:
        return self.router.metrics.registry.get_sample_value(name, labels)


@pytest_asyncio.fixture
async def site(
    config_file: Path,
    clock: FakeClock,
    pki: Pki,
    empty_queues: None,
    unit_client_for: UnitClientFactory,
) -> AsyncIterator[Site]:
    router = Router(load_config(config_file), clock, config_file)
    await router.start()
    async with contextlib.AsyncExitStack() as stack:
        clients = {unit: await stack.enter_async_context(unit_client_for(unit)) for unit in UNITS}
        running = Site(config_file, clock, pki, clients, router)
        try:
            yield running
        finally:
            await running.router.stop(flush_timeout=2)


def pdf_text(path: Path) -> str:
    """The PDF's text as poppler reads it, without the line breaks of wrapped table cells."""
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return "".join(text.split())


def pdf_fonts(path: Path) -> list[tuple[str, str]]:
    """(font name, embedded) for each font in the PDF, from pdffonts."""
    lines = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    return [(line.split()[0], line.split()[-5]) for line in lines]


def docex(*args: str) -> str:
    """Run the operator's command as the office would; fails the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "docex.cli", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def stop_heartbeats(site: Site, unit: str) -> None:
    """Stop the unit's adapter, and let the router take in whatever it sent before."""
    client = site.units[unit]
    client.stop_heartbeats()
    marker = await client.request(wire.StatusQuery(v=wire.VERSION, doc_id="marker"))
    assert isinstance(marker, wire.Status) and marker.reason == "unknown_document"


async def test_a_silent_unit_goes_on_paper_after_24_hours_exactly_once(site: Site) -> None:
    """§46: a unit whose system stops is reported to the General Office at once.
    §47: not cleared in 24 hours, the unit gets one paper notice listing what it has not
    received, those deliveries go to paper, and their senders are told; restarts change none
    of it. When the unit comes back, it and the office are told, and nothing arrives twice."""
    finance = site.units["finance"]
    site.units["finance"].start_heartbeats(interval_s=0.05)
    await site.beat("gov-office", "education")
    site.later(10 * SECOND)
    await site.heard("finance", site.router.handler.calendar.stamp(site.clock.now()))

    main_doc = await site.send(
        "gov-office", to=["finance"], print_quota={"finance": 3}, title="关于做好年终工作的通知"
    )
    copy_doc = await site.send(
        "education",
        to=["gov-office"],
        cc=["finance"],
        print_quota={"finance": 1},
        title="关于开展校园安全检查的通知",
        doc_no="穗教〔2026〕3号",
    )
    read_doc = await site.send("gov-office", to=["finance"], title="关于召开安全生产会议的通知")
    receipt = await finance.request(wire.Receipt(v=wire.VERSION, doc_id=read_doc.id, kind="read"))
    assert isinstance(receipt, wire.Status) and receipt.state == "received"
    await stop_heartbeats(site, "finance")

    site.later(HEARTBEAT_TIMEOUT + SECOND)
    await site.beat("gov-office", "education")
    site.check()
    fault = site.router.ledger.open_fault("finance")
    assert fault is not None and fault.kind == "heartbeat_lost"
    assert fault.office_notified_at == fault.started_at
    [alarm] = await site.notices("gov-office", "fault")
    assert (alarm.scope, alarm.fault, alarm.fault_id) == ("finance", "heartbeat_lost", fault.id)
    assert "市财政局" in alarm.text
    assert site.metric("docex_link_up", unit="finance") == 0
    assert site.metric("docex_link_up", unit="education") == 1
    assert site.metric("docex_fault_age_seconds", scope="finance") == 0

    site.later(timedelta(hours=23, minutes=59))
    await site.beat("gov-office", "education")
    site.check()
    assert site.router.ledger.notices() == []
    assert site.state(main_doc, "finance") == "delivered"
    assert site.metric("docex_fault_age_seconds", scope="finance") == 86340

    await site.restart()
    site.later(timedelta(minutes=1) + SECOND)
    await site.beat("gov-office", "education")
    site.check()
    site.check()
    [notice] = site.router.ledger.notices()
    await site.restart()
    site.check()
    assert site.router.ledger.notices() == [notice]
    assert site.router.ledger.open_faults() == [site.router.ledger.fault(fault.id)]

    assert notice.unit == "finance" and notice.fault_id == fault.id
    path = Path(notice.path)
    assert path.parent.parent == site.config_file.parent / "paper"
    text = pdf_text(path)
    for expected in (
        "关于改用纸质方式交换公文的通知",
        "市财政局",
        main_doc.doc_no,
        main_doc.title,
        copy_doc.doc_no,
        copy_doc.title,
        "市府办公厅",
        "市教育局",
        "主送",
        "抄送",
        "交接签字",
    ):
        assert expected in text, expected
    assert read_doc.title not in text
    fonts = pdf_fonts(path)
    assert fonts and all(embedded == "yes" for _, embedded in fonts), fonts
    assert site.router.ledger.notice_documents(notice.id) == [main_doc.id, copy_doc.id]

    assert site.state(main_doc, "finance") == "paper"
    assert site.state(copy_doc, "finance") == "paper"
    assert site.state(read_doc, "finance") == "received"
    assert site.state(copy_doc, "gov-office") == "delivered"
    for sender, envelope in (("gov-office", main_doc), ("education", copy_doc)):
        news = await site.news(sender, envelope, "paper")
        assert (news.recipient, news.reason) == ("finance", "heartbeat_lost")
    [office_paper] = await site.notices("gov-office", "paper")
    assert office_paper.documents == [main_doc.id, copy_doc.id]

    listed = docex("notices", "list", "--config", str(site.config_file))
    assert f"{notice.id}  " in listed and "市财政局 (finance)" in listed and str(path) in listed
    shown = docex("notices", "show", str(notice.id), "--config", str(site.config_file))
    assert str(path) in shown and "heartbeat_lost" in shown and "still open" in shown
    assert f"{main_doc.doc_no} 《{main_doc.title}》" in shown and "抄送, may print 1" in shown

    site.later(timedelta(hours=1))
    await site.beat("finance", "gov-office", "education")
    site.check()
    assert site.router.ledger.open_faults() == []
    assert site.router.ledger.fault(fault.id).ended_at is not None  # type: ignore[union-attr]
    for unit in ("gov-office", "finance"):
        [recovered] = await site.notices(unit, "recovered")
        assert recovered.fault_id == fault.id
    await finance.drain()
    assert sorted(d.deliver.envelope.id for d in finance.mailbox.deliveries()) == sorted(
        [main_doc.id, copy_doc.id, read_doc.id]
    )
    on_paper = {d.deliver.envelope.id for d in finance.mailbox.deliveries() if d.paper_at}
    assert on_paper == {main_doc.id, copy_doc.id}
    late_read = await finance.request(wire.Receipt(v=wire.VERSION, doc_id=main_doc.id, kind="read"))
    assert isinstance(late_read, wire.Status) and late_read.reason == "document_paper"
    late_print = await finance.request(
        wire.PrintRequest(v=wire.VERSION, doc_id=copy_doc.id, copies=1)
    )
    assert isinstance(late_print, wire.Status) and late_print.reason == "document_paper"
    await eventually(lambda: site.router.ledger.outbox_depth() == 0, "the outbox to drain")
    assert len(finance.mailbox.deliveries()) == 3
    assert site.metric("docex_link_up", unit="finance") == 1


async def test_a_unit_back_within_24_hours_goes_on_electronically(site: Site) -> None:
    """§46: a fault cleared in time needs no paper; what was sent meanwhile arrives once."""
    await site.beat("finance")
    site.later(HEARTBEAT_TIMEOUT + SECOND)
    site.check()
    fault = site.router.ledger.open_fault("finance")
    assert fault is not None
    during = await site.send("gov-office", to=["finance"], title="故障期间发出的通知")

    site.later(timedelta(hours=23))
    site.check()
    await site.beat("finance")
    site.check()
    assert site.router.ledger.open_faults() == []
    assert site.router.ledger.notices() == []
    [recovered] = await site.notices("finance", "recovered")
    assert recovered.fault_id == fault.id

    finance = site.units["finance"]
    read = await finance.request(wire.Receipt(v=wire.VERSION, doc_id=during.id, kind="read"))
    assert isinstance(read, wire.Status) and read.state == "received"
    assert [d.deliver.envelope.id for d in finance.mailbox.deliveries()] == [during.id]


async def test_documents_sent_after_the_fallback_get_a_further_notice(site: Site) -> None:
    """§47: while the fault lasts, documents sent to the unit later go on paper too, each
    listed once, in a further notice; a unit with nothing pending still gets the first one."""
    await site.beat("finance")
    site.later(HEARTBEAT_TIMEOUT + SECOND)
    site.check()
    site.later(timedelta(hours=24))
    site.check()
    [first] = site.router.ledger.notices()
    assert site.router.ledger.notice_documents(first.id) == []
    assert "目前没有待贵单位接收的电子公文" in pdf_text(Path(first.path))

    later = await site.send("gov-office", to=["finance"], title="故障期间补发的通知")
    site.check()
    site.check()
    first_again, second = site.router.ledger.notices()
    assert first_again == first
    assert site.router.ledger.notice_documents(second.id) == [later.id]
    assert Path(second.path).name == "finance-2.pdf"
    assert "（补充）" in pdf_text(Path(second.path))
    assert site.state(later, "finance") == "paper"


async def test_a_unit_without_heartbeats_is_down_when_its_documents_wait_untaken(
    site: Site,
) -> None:
    """§46: a unit that runs no heartbeat adapter is judged by its queue: a document left
    untaken past queue_timeout_s with nothing heard from the unit since is a fault."""
    waiting = await site.send("gov-office", to=["education"])
    site.later(QUEUE_TIMEOUT - timedelta(minutes=1))
    site.check()
    assert site.router.ledger.open_faults() == []

    site.later(timedelta(minutes=2))
    site.check()
    [fault] = site.router.ledger.open_faults()
    assert (fault.scope, fault.kind) == ("education", "queue_untaken")

    site.later(timedelta(minutes=10))
    read = await site.units["education"].request(
        wire.Receipt(v=wire.VERSION, doc_id=waiting.id, kind="read")
    )
    assert isinstance(read, wire.Status) and read.state == "received"
    site.check()
    assert site.router.ledger.open_faults() == []


async def test_the_exchange_down_for_24_hours_sends_paper_to_every_unit(site: Site) -> None:
    """§46, §47: when the exchange itself cannot run, the office is told; after 24 hours every
    unit gets a paper notice of what it has not received, and everyone hears of the recovery.
    Units are not blamed for the silence the exchange's own fault causes."""
    to_finance = await site.send("gov-office", to=["finance"], title="发往财政局的通知")
    to_education = await site.send(
        "finance", to=["education"], cc=["gov-office"], title="发往教育局的通知"
    )
    broker = {"up": False}
    watch = LinkWatch(site.router.handler, site.router.ledger_health, lambda: broker["up"])

    watch.check()
    fault = site.router.ledger.open_fault("*")
    assert fault is not None and fault.kind == "broker_unreachable"
    [alarm] = await site.notices("gov-office", "fault")
    assert alarm.scope == "*"

    site.later(timedelta(hours=24))
    watch.check()
    assert [f.scope for f in site.router.ledger.open_faults()] == ["*"]
    notices = {n.unit: n for n in site.router.ledger.notices()}
    assert sorted(notices) == ["education", "finance", "gov-office"]
    listed = {unit: site.router.ledger.notice_documents(n.id) for unit, n in notices.items()}
    assert listed == {
        "finance": [to_finance.id],
        "education": [to_education.id],
        "gov-office": [to_education.id],
    }
    assert "交换系统无法连接消息服务器" in pdf_text(Path(notices["gov-office"].path))
    assert {site.state(to_education, "education"), site.state(to_education, "gov-office")} == {
        "paper"
    }
    assert site.router.ledger.fault(fault.id).paper_issued_at is not None  # type: ignore[union-attr]

    broker["up"] = True
    site.later(timedelta(hours=1))
    watch.check()
    assert site.router.ledger.open_faults() == []
    for unit in UNITS:
        [recovered] = await site.notices(unit, "recovered")
        assert recovered.scope == "*"


async def test_heartbeats_are_acked_but_never_answered_or_recorded(site: Site, prefix: str) -> None:
    """The one command without an answer: it fills neither the unit's queue nor `commands`."""
    finance = site.units["finance"]
    beat_id = await finance.send(wire.Heartbeat(v=wire.VERSION))
    marker = await finance.request(wire.StatusQuery(v=wire.VERSION, doc_id="marker"))
    assert isinstance(marker, wire.Status)
    assert finance.mailbox.answer_count(beat_id) == 0
    assert finance.mailbox.statuses() == [marker]
    assert not site.router.ledger.command_seen("finance", beat_id)
    link = site.router.ledger.link("finance")
    assert link is not None and link.heartbeats

    def intake_messages() -> int:
        listed = subprocess.run(
            ["rabbitmqctl", "--quiet", "--no-table-headers", "list_queues", "name", "messages"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        return next(
            int(line.split()[1]) for line in listed if line.startswith(f"{prefix}.intake.finance\t")
        )

    await eventually(lambda: intake_messages() == 0, "the heartbeat to be acked")

    queued = site.router.ledger.outbox_depth()
    with site.router.ledger.transaction():
        verdict = site.router.handler.handle(
            Inbound("", amqp_user(prefix, REVOKED_UNIT), wire.encode(wire.Heartbeat(v=1)))
        )
    assert verdict is Verdict.ACK
    assert site.router.ledger.outbox_depth() <= queued


async def test_a_notice_that_cannot_be_written_is_retried_and_routing_goes_on(
    site: Site, tmp_path: Path
) -> None:
    """Degrade, never halt: a paper notice that fails changes nothing, is counted, and is
    written at the next check once the problem is gone."""
    pending = await site.send("gov-office", to=["finance"])
    await site.beat("finance")
    site.later(HEARTBEAT_TIMEOUT + SECOND)
    site.check()
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    links = site.router.handler.config.links
    spool, links.spool_dir = links.spool_dir, str(blocker)

    site.later(timedelta(hours=24))
    site.check()
    assert site.router.ledger.notices() == []
    assert site.state(pending, "finance") == "delivered"
    assert site.metric("docex_paper_notice_failures_total") == 1
    assert site.router.ledger.open_fault("finance").paper_issued_at is None  # type: ignore[union-attr]
    await site.send("gov-office", to=["education"])

    links.spool_dir = spool
    site.check()
    [notice] = site.router.ledger.notices()
    assert site.router.ledger.notice_documents(notice.id) == [pending.id]
    assert site.metric("docex_paper_notices_total") == 1


def test_without_a_chinese_font_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paper, "FONT_CANDIDATES", ((Path("/nonexistent/uming.ttc"), 0),))
    paper.cjk_font.cache_clear()
    try:
        with pytest.raises(paper.PaperError, match="apt-get install fonts-arphic-uming"):
            paper.cjk_font()
    finally:
        paper.cjk_font.cache_clear()


async def test_a_unit_revoked_during_its_fault_leaves_no_fault_open(site: Site) -> None:
    """§9(二): a revoked unit's pending documents go back to their senders on reload; its link
    fault closes with it rather than waiting forever for a unit that will not come back."""
    await site.beat("finance")
    site.later(HEARTBEAT_TIMEOUT + SECOND)
    site.check()
    assert site.router.ledger.open_fault("finance") is not None
    text = site.config_file.read_text()
    block = 'id = "finance"\n'
    site.config_file.write_text(text.replace(block, block + 'status = "revoked"\n', 1))
    assert await site.router.reload()
    site.check()
    assert site.router.ledger.open_faults() == []
    assert site.metric("docex_link_up", unit="finance") is None


class LateBroker:
    """A TCP relay to the real RabbitMQ that starts listening only when told: a broker that
    is not up yet when the router starts."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = BROKER.split(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(
            copy(reader, upstream_writer), copy(upstream_reader, writer), return_exceptions=True
        )


async def test_a_router_started_while_the_broker_is_away_waits_and_counts_the_outage(
    config_file: Path,
    empty_queues: None,
    clock: FakeClock,
    unit_client_for: UnitClientFactory,
    pki: Pki,
) -> None:
    """§46, §47: RabbitMQ down at the router's start is an exchange-wide outage like one that
    begins later: the fault and its 24-hour clock start at once, the router keeps trying, and
    once the broker is there it routes and the fault closes."""
    broker = LateBroker()
    config_file.write_text(
        config_file.read_text().replace(f"@{BROKER}/", f"@127.0.0.1:{broker.port}/")
    )
    router = Router(load_config(config_file), clock, config_path=config_file)
    starting = asyncio.create_task(router.start())
    try:
        fault = await eventually(lambda: router.ledger.open_fault("*"), "the exchange's fault")
        assert fault.kind == "broker_unreachable"
        assert "broker: not connected" in router.not_ready()
        assert not starting.done()

        await broker.open()
        await asyncio.wait_for(starting, 60)
        async with unit_client_for("gov-office") as office, unit_client_for("finance") as finance:
            envelope = sealed_envelope(pki.signing["gov-office"])
            answer = await office.request(submit(envelope))
            assert isinstance(answer, wire.Status) and answer.state == "accepted"
            await finance.wait_for(lambda: finance.mailbox.delivery(envelope.id), timeout=10)
        router.linkwatch.check()
        assert router.ledger.open_fault("*") is None
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await router.stop(flush_timeout=2.0)
        await broker.close()
