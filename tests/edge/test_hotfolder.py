"""The hot folder against a real router, real RabbitMQ and real files: what an office system
drops is sealed, sent once and filed; what is delivered lands in inbox/, and moving it to
inbox/done/ is the read receipt."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
import pytest
import pytest_asyncio

from docex import wire
from docex.adapters.hotfolder.folder import Folder
from docex.adapters.hotfolder.service import serve
from docex.adapters.hotfolder.settings import HotFolderSettings, load_hotfolder_settings
from docex.config import Config
from docex.ids import uuid7
from docex.ledger.journal import Journal
from docex.ledger.open import open_ledger
from docex.router.service import Router
from docex.topology import Names
from docex.unit.client import UnitClient
from docex.unit.settings import UnitSettings
from tests.conftest import SEAL_PASSWORD, Pki, eventually, unit_settings
from tests.documents import PDF, delivered, ofd, sealed_envelope, submit

REPO = Path(__file__).resolve().parents[2]
OFFICE = "gov-office"


def write_unit_settings(path: Path, settings: UnitSettings) -> Path:
    """The unit's settings file, as `docex unit --config` and the adapters read it."""
    fields = msgspec.structs.asdict(settings)
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items()))
    return path


def sidecar(title: str, **fields: object) -> str:
    """A sidecar in TOML; `None` leaves a field out."""
    values: dict[str, object] = {
        "to": ["finance"],
        "title": title,
        "doc_no": "穗府办〔2026〕12号",
        "classification": "public",
    }
    values.update(fields)
    lines = []
    for key, value in values.items():
        if isinstance(value, dict):
            table = ", ".join(f'"{unit}" = {copies}' for unit, copies in value.items())
            lines.append(f"{key} = {{ {table} }}")
        elif value is not None:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def drop(outbox: Path, name: str, sidecar_text: str, content: bytes = PDF) -> None:
    """As the folder's contract asks: the document written under another name and renamed into
    place, then the sidecar the same way, last."""
    part = outbox / f"{name}.part"
    part.write_bytes(content)
    part.rename(outbox / name)
    hidden = outbox / f".{name}.toml"
    hidden.write_text(sidecar_text)
    hidden.rename(outbox / f"{name}.toml")


def documents_by_title(config: Config, sender: str = OFFICE) -> dict[str, int]:
    """How many documents the router's ledger holds under each title (read-only)."""
    ledger = open_ledger(config.router.ledger, read_only=True)
    try:
        rows = ledger.connection.execute(
            "SELECT title, count(*) FROM documents WHERE sender = ? GROUP BY title", (sender,)
        ).fetchall()
    finally:
        ledger.close()
    return {str(title): int(count) for title, count in rows}


@pytest.fixture
def settings(prefix: str, pki: Pki, broker_users: Path, tmp_path: Path) -> HotFolderSettings:
    return HotFolderSettings(
        unit=unit_settings(prefix, pki, broker_users, OFFICE, tmp_path / "hotfolder-state"),
        folder=tmp_path / "folder",
        journal=tmp_path / "hotfolder-state" / "journal.sqlite",
        seal_password=SEAL_PASSWORD,
        sealed_by="收发室",
        poll_interval_s=0.05,
        max_document_bytes=1024 * 1024,
    )


@dataclass
class Running:
    folder: Folder
    task: asyncio.Task[None]
    stopping: asyncio.Event

    async def stop(self) -> None:
        """A clean stop, as SIGTERM makes one."""
        self.stopping.set()
        await asyncio.wait_for(self.task, 10)

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        def met() -> bool:
            if self.task.done():
                pytest.fail(f"the hot folder stopped: {self.task.exception()!r}")
            return condition()

        await eventually(met, what, timeout)


@pytest_asyncio.fixture
async def launch(
    empty_queues: None, settings: HotFolderSettings, pki: Pki
) -> AsyncIterator[Callable[[], Running]]:
    """Starts the hot folder of the General Office in this process, once per call; without the
    router, for deliveries a test hands straight to the unit's queue."""
    runs: list[Running] = []

    def run() -> Running:
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(settings, pki.signing[OFFICE], stopping))
        runs.append(Running(Folder(settings.folder), task, stopping))
        return runs[-1]

    yield run
    for running in runs:
        running.stopping.set()
    await asyncio.wait_for(asyncio.gather(*(running.task for running in runs)), 10)


@pytest.fixture
def start(router: Router, launch: Callable[[], Running]) -> Callable[[], Running]:
    """Starts the hot folder of the General Office in this process, with the router running."""
    return launch


async def test_a_dropped_document_is_sealed_sent_and_filed(
    start: Callable[[], Running], units: dict[str, UnitClient]
) -> None:
    """§29, §31: the sidecar's main and copy recipients and print copies go into the sealed
    envelope; the result is filed in sent/ with the send time and exchange date."""
    running = start()
    folder = running.folder
    drop(
        folder.outbox,
        "通知.pdf",
        sidecar(
            "关于年终工作的通知",
            cc=["education"],
            copies={"finance": 3, "education": 1},
            paper_attachments=["附件2 图纸"],
        ),
    )
    note = folder.sent / "通知.pdf.sent.json"
    await running.until(note.exists, "the sent note")

    sent = json.loads(note.read_text())
    assert (folder.sent / "通知.pdf").read_bytes() == PDF
    assert (folder.sent / "通知.pdf.toml").exists()
    assert list(folder.outbox.iterdir()) == []
    assert sent["exchange_date"] == "2026-11-26"
    finance = units["finance"]
    deliver = await finance.wait_for(
        lambda: next((d.deliver for d in finance.mailbox.deliveries()), None), timeout=10
    )
    envelope = deliver.envelope
    assert envelope.id == sent["id"]
    assert (envelope.title, envelope.sender, envelope.sealed_by) == (
        "关于年终工作的通知",
        OFFICE,
        "收发室",
    )
    assert (deliver.role, deliver.print_quota, envelope.paper_attachments) == (
        "main",
        3,
        ["附件2 图纸"],
    )
    assert [d.seal_error for d in finance.mailbox.deliveries()] == [""]


async def test_the_hot_folder_beats_for_its_unit(
    start: Callable[[], Running], router: Router
) -> None:
    """§46: a running hot folder keeps its unit's link alive in the router's link watch."""
    running = start()

    def beating() -> bool:
        link = router.ledger.link(OFFICE)
        return link is not None and link.heartbeats

    await running.until(beating, "a heartbeat from the hot folder")


async def test_ofd_and_a_reused_name_are_filed_apart(
    start: Callable[[], Running], config: Config
) -> None:
    """§27: OFD is recognised by its bytes. A name dropped again later keeps the earlier
    result: the second is filed under the journal's id."""
    running = start()
    folder = running.folder
    drop(folder.outbox, "x.ofd", sidecar("first"), content=ofd())
    await running.until((folder.sent / "x.ofd.sent.json").exists, "the first result")
    drop(folder.outbox, "x.ofd", sidecar("second"), content=ofd())
    await running.until(lambda: len(list(folder.sent.glob("x.*.ofd.sent.json"))) == 1, "second")

    [second] = folder.sent.glob("x.*.ofd.sent.json")
    assert json.loads(second.read_text())["title"] == "second"
    assert json.loads((folder.sent / "x.ofd.sent.json").read_text())["title"] == "first"
    assert documents_by_title(config) == {"first": 1, "second": 1}


async def test_bad_drops_are_rejected_with_a_readable_reason(
    start: Callable[[], Running], config: Config
) -> None:
    """§4: a secret document never leaves the unit. A sidecar missing a field, one that is not
    TOML, an unknown recipient (the router's reason) and an unrecognised format all end in
    rejected/ with the reason beside them, and the adapter goes on with the next drop."""
    running = start()
    folder = running.folder
    drop(folder.outbox, "secret.pdf", sidecar("密件", classification="secret"))
    drop(folder.outbox, "typo.pdf", sidecar("拼错", classification="pubilc"))
    drop(folder.outbox, "no-number.pdf", sidecar("无文号", doc_no=None))
    drop(folder.outbox, "broken.pdf", 'title = "unclosed\n')
    drop(folder.outbox, "nobody.pdf", sidecar("无此单位", to=["nobody"]))
    drop(folder.outbox, "notes.txt", sidecar("纯文本"), content=b"plain text")
    (folder.outbox / "orphan.pdf.toml").write_text(sidecar("无正文"))
    drop(folder.outbox, "fine.pdf", sidecar("正常"))

    def reason(name: str) -> str:
        return (folder.rejected / f"{name}.rejected.txt").read_text().strip()

    await running.until((folder.sent / "fine.pdf.sent.json").exists, "the good drop")
    await running.until((folder.rejected / "nobody.pdf.rejected.txt").exists, "the router")
    assert reason("secret.pdf").startswith("excluded_classification: secret documents")
    assert reason("typo.pdf") == (
        "invalid_sidecar: typo.pdf.toml: classification: not one of the allowed values: 'pubilc'"
    )
    assert reason("no-number.pdf") == (
        "invalid_sidecar: no-number.pdf.toml: doc_no: missing required field `doc_no`"
    )
    assert reason("broken.pdf").startswith("invalid_sidecar: broken.pdf.toml line 1, column ")
    assert reason("nobody.pdf") == "unknown_recipient: no unit 'nobody' is registered"
    assert reason("notes.txt").startswith("unknown_format: notes.txt is neither PDF nor OFD")
    assert reason("orphan.pdf").startswith("missing_document: no orphan.pdf")
    assert (folder.rejected / "secret.pdf").read_bytes() == PDF
    assert (folder.rejected / "secret.pdf.toml").exists()
    assert list(folder.outbox.iterdir()) == []
    # Refused locally, the secret document never reached the exchange at all.
    assert documents_by_title(config) == {"正常": 1}


async def test_a_half_written_document_is_never_sent(
    start: Callable[[], Running], config: Config
) -> None:
    """A document still being written (`.part`, a dot file) or without its sidecar is left
    alone; it goes once its sidecar appears."""
    running = start()
    folder = running.folder
    (folder.outbox / "half.pdf.part").write_bytes(PDF[:10])
    (folder.outbox / "half.pdf.part.toml").write_text(sidecar("半成品"))
    (folder.outbox / ".hidden.pdf").write_bytes(PDF)
    (folder.outbox / ".hidden.pdf.toml").write_text(sidecar("隐藏"))
    (folder.outbox / "waiting.pdf").write_bytes(PDF)
    drop(folder.outbox, "marker.pdf", sidecar("标记"))
    await running.until((folder.sent / "marker.pdf.sent.json").exists, "the marker")
    # Every round after the marker's also left them alone; one more to be sure.
    drop(folder.outbox, "marker2.pdf", sidecar("标记2"))
    await running.until((folder.sent / "marker2.pdf.sent.json").exists, "the second marker")

    assert sorted(path.name for path in folder.outbox.iterdir()) == [
        ".hidden.pdf",
        ".hidden.pdf.toml",
        "half.pdf.part",
        "half.pdf.part.toml",
        "waiting.pdf",
    ]
    assert list(folder.rejected.iterdir()) == []
    (folder.outbox / "waiting.pdf.toml").write_text(sidecar("等待"))
    await running.until((folder.sent / "waiting.pdf.sent.json").exists, "the completed drop")
    assert documents_by_title(config) == {"标记": 1, "标记2": 1, "等待": 1}


async def test_delivered_documents_land_in_inbox_and_done_sends_the_read_receipt(
    start: Callable[[], Running], units: dict[str, UnitClient], pki: Pki, router: Router
) -> None:
    """§37: the receipt time is set when the office system takes the document in, which it
    says by moving it to inbox/done/ — not when the file merely arrived."""
    running = start()
    folder = running.folder
    finance = units["finance"]
    envelope = sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE])
    answer = await finance.request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    document = folder.inbox / f"{envelope.id}.pdf"
    metadata = folder.inbox / f"{envelope.id}.json"
    await running.until(metadata.exists, "the delivery in inbox/")

    assert document.read_bytes() == PDF
    fields = json.loads(metadata.read_text())
    assert (fields["id"], fields["sender"], fields["role"]) == (envelope.id, "finance", "main")
    assert fields["sent_exchange_date"] == "2026-11-26"
    delivery = router.ledger.delivery(envelope.id, OFFICE)
    assert delivery is not None and delivery.received_at is None

    document.rename(folder.done / document.name)
    [received] = await finance.wait_for(
        lambda: [s for s in finance.mailbox.statuses(envelope.id) if s.state == "received"] or None,
        timeout=10,
    )
    assert received.recipient == OFFICE
    delivery = router.ledger.delivery(envelope.id, OFFICE)
    assert delivery is not None and delivery.received_at == received.at


async def test_a_delivery_whose_seal_fails_goes_to_refused(
    start: Callable[[], Running], units: dict[str, UnitClient], pki: Pki, config: Config
) -> None:
    """§18: a document is valid only under its sender's seal. One that does not verify at the
    recipient is not put where the office system takes documents in, and gets no receipt."""
    running = start()
    folder = running.folder
    # The router checks seals too, so the broken one is handed straight to the unit's queue.
    envelope = sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE])
    forged = msgspec.structs.replace(envelope, title="篡改的标题")
    await publish_to_unit(config, OFFICE, wire.encode(delivered(forged)))
    metadata = folder.refused / f"{envelope.id}.json"
    await running.until(metadata.exists, "the refused delivery")
    assert json.loads(metadata.read_text())["refused"].startswith("the seal does not verify")
    assert not (folder.inbox / f"{envelope.id}.pdf").exists()


async def publish_to_unit(config: Config, unit: str, body: bytes) -> None:
    """Straight into the unit's queue, as only the router may."""
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(config.router.prefix).outbound)
        await exchange.publish(
            aio_pika.Message(body, message_id=uuid7(), type="deliver"), routing_key=unit
        )


async def test_hostile_ids_stay_inside_inbox_and_the_next_delivery_is_filed(
    launch: Callable[[], Running], config: Config, pki: Pki, tmp_path: Path
) -> None:
    """Ids are the sender's to choose, and a compromised path may hand over any: each delivery
    is written inside inbox/ under one safe name, its `.json` keeps the id as it came, and the
    document after them is filed as ever."""
    hostile_ids = ["../../x", str(tmp_path / "abs"), "x\0y", "..", "文" * 5000, "CON", "a\n\x1b[2J"]
    envelopes = [
        sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE], id=doc_id)
        for doc_id in hostile_ids
    ]
    good = sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE])
    before = set(tmp_path.rglob("*"))
    running = launch()
    folder = running.folder
    for envelope in [*envelopes, good]:
        await publish_to_unit(config, OFFICE, wire.encode(delivered(envelope)))
    await running.until((folder.inbox / f"{good.id}.json").exists, "the good delivery")

    state = tmp_path / "hotfolder-state"
    written = {path for path in tmp_path.rglob("*") if path.is_file()} - before
    assert {path.parent for path in written} == {folder.inbox, state}
    sidecars = {json.loads(path.read_text())["id"]: path for path in folder.inbox.glob("*.json")}
    assert set(sidecars) == {*hostile_ids, good.id}
    assert all(path.with_suffix(".pdf").read_bytes() == PDF for path in sidecars.values())
    assert len([path for path in folder.inbox.iterdir() if path.is_file()]) == 2 * len(sidecars)
    assert [path.name for path in folder.inbox.iterdir() if path.stem.upper() == "CON"] == []


async def test_a_delivery_that_cannot_be_filed_is_logged_once_and_the_next_one_is_filed(
    empty_queues: None, settings: HotFolderSettings, config: Config, pki: Pki, tmp_path: Path
) -> None:
    """§37: a document the adapter cannot write is logged, not receipted, and tried again each
    round without a word more; the deliveries after it are filed, and it is filed once the way
    is clear. The adapter never stops for it."""
    folder = Folder(settings.folder)
    blocked, good = (
        sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE]) for _ in range(2)
    )
    (folder.inbox / f"{blocked.id}.pdf").mkdir()
    for envelope in (blocked, good):
        await publish_to_unit(config, OFFICE, wire.encode(delivered(envelope)))
    log = tmp_path / "adapter.log"
    adapter = start_adapter(write_settings(tmp_path, settings, 20), log)
    try:
        await eventually((folder.inbox / f"{good.id}.json").exists, "the next delivery filed")
        # News is written after the deliveries, in a later round than this one came in.
        news_item = wire.Status(doc_id="other", state="delivered", at="2026-11-26T10:01:00+08:00")
        await publish_to_unit(config, OFFICE, wire.encode(news_item))
        await eventually(lambda: news(folder), "a round after the failure")
        assert adapter.poll() is None
        assert not (folder.inbox / f"{blocked.id}.json").exists()
        assert not receipt_sent(settings, blocked.id)
        (folder.inbox / f"{blocked.id}.pdf").rmdir()
        await eventually((folder.inbox / f"{blocked.id}.json").exists, "the blocked delivery")
    finally:
        adapter.send_signal(signal.SIGTERM)
        adapter.wait(timeout=30)

    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    not_saved = [event for event in events if event["event"] == "delivery_not_saved"]
    assert [event["doc_id"] for event in not_saved] == [blocked.id], not_saved
    assert "Is a directory" in not_saved[0]["error"]
    assert (folder.inbox / f"{blocked.id}.pdf").read_bytes() == PDF


def news(folder: Folder) -> list[tuple[str, dict[str, Any]]]:
    """news/ as the office system reads it: by name, which is arrival order. Dot files are
    still being written."""
    return [
        (path.name, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.news.glob("[0-9]*.json"))
    ]


def news_of_type(folder: Folder, type_: str) -> list[dict[str, Any]]:
    return [fields for name, fields in news(folder) if name.endswith(f"-{type_}.json")]


def receipt_sent(settings: HotFolderSettings, doc_id: str) -> bool:
    """What the hot folder's mailbox records about a delivery's read receipt (read-only)."""
    mailbox = sqlite3.connect(f"file:{settings.unit.mailbox}?mode=ro", uri=True)
    try:
        (sent,) = mailbox.execute(
            "SELECT receipt_sent FROM deliveries WHERE doc_id = ?", (doc_id,)
        ).fetchone()
    finally:
        mailbox.close()
    return bool(sent)


async def test_news_tells_the_office_system_what_became_of_a_document_it_sent(
    start: Callable[[], Running], units: dict[str, UnitClient], router: Router
) -> None:
    """§32, §37: what the router tells the sender lands in news/ in the order it came: the
    document accepted (its send time), delivered to the recipient, and received at the receipt
    time of §37, when the recipient read it into its office system."""
    running = start()
    folder = running.folder
    drop(folder.outbox, "通知.pdf", sidecar("关于年终工作的通知"))
    note = folder.sent / "通知.pdf.sent.json"
    await running.until(note.exists, "the sent note")
    sent = json.loads(note.read_text())
    finance = units["finance"]
    await finance.wait_for(lambda: finance.mailbox.delivery(sent["id"]), timeout=10)
    await finance.send(wire.Receipt(v=wire.VERSION, doc_id=sent["id"], kind="read"))
    await running.until(
        lambda: any(fields["state"] == "received" for fields in news_of_type(folder, "status")),
        "the news of the receipt",
    )

    written = news(folder)
    assert [(fields["t"], fields["state"], fields["doc_id"]) for _, fields in written] == [
        ("status", "accepted", sent["id"]),
        ("status", "delivered", sent["id"]),
        ("status", "received", sent["id"]),
    ]
    assert all(name[:10].isdigit() and name[10:] == "-status.json" for name, _ in written)
    accepted, delivered, received = (fields for _, fields in written)
    assert accepted["at"] == sent["sent_at"]
    assert (delivered["recipient"], received["recipient"]) == ("finance", "finance")
    delivery = router.ledger.delivery(sent["id"], "finance")
    assert delivery is not None and received["at"] == delivery.received_at


async def waiting_in_inbox(
    running: Running, finance: UnitClient, pki: Pki, title: str = "待收"
) -> wire.Envelope:
    """A document finance sent the office, written to the office's inbox/ and not taken in."""
    envelope = sealed_envelope(pki.signing["finance"], sender="finance", to=[OFFICE], title=title)
    answer = await finance.request(submit(envelope))
    assert isinstance(answer, wire.Status) and answer.state == "accepted", answer
    await running.until((running.folder.inbox / f"{envelope.id}.json").exists, title)
    return envelope


async def test_a_document_withdrawn_while_in_inbox_is_moved_to_refused_and_never_receipted(
    start: Callable[[], Running],
    units: dict[str, UnitClient],
    pki: Pki,
    router: Router,
    settings: HotFolderSettings,
) -> None:
    """DESIGN.md §2 (the rulebook has no article for it): the sender may withdraw (撤回) what
    has not been received (§37). Withdrawn while it waits in inbox/, the document is taken out
    of the office system's way into inbox/refused/, its `.json` says why, the news says
    withdrawn, and no read receipt ever goes for it."""
    running = start()
    folder = running.folder
    finance = units["finance"]
    envelope = await waiting_in_inbox(running, finance, pki)

    withdrawn = await finance.request(wire.Withdraw(v=wire.VERSION, doc_id=envelope.id))
    assert isinstance(withdrawn, wire.WithdrawResult) and withdrawn.withdrawn == [OFFICE]
    await running.until(lambda: bool(news_of_type(folder, "withdrawn")), "the withdrawn news")

    [news_fields] = news_of_type(folder, "withdrawn")
    assert (news_fields["doc_id"], news_fields["at"]) == (envelope.id, withdrawn.at)
    assert [path for path in folder.inbox.iterdir() if path.is_file()] == []
    assert (folder.refused / f"{envelope.id}.pdf").read_bytes() == PDF
    metadata = json.loads((folder.refused / f"{envelope.id}.json").read_text())
    assert (metadata["id"], metadata["refused"]) == (
        envelope.id,
        f"withdrawn by the sender at {withdrawn.at}",
    )
    # Rounds go by, each looking for documents moved to inbox/done/.
    drop(folder.outbox, "marker.pdf", sidecar("标记"))
    await running.until((folder.sent / "marker.pdf.sent.json").exists, "the marker")
    assert not receipt_sent(settings, envelope.id)
    delivery = router.ledger.delivery(envelope.id, OFFICE)
    assert delivery is not None
    assert (delivery.state, delivery.received_at) == ("withdrawn", None)


async def test_a_paper_notice_takes_back_what_waits_in_inbox_not_what_was_taken_in(
    start: Callable[[], Running],
    units: dict[str, UnitClient],
    pki: Pki,
    config: Config,
    settings: HotFolderSettings,
) -> None:
    """§47: deliveries switched to paper are not taken in electronically. One still waiting in
    inbox/ is moved to refused/; one the office system took in already stays in inbox/done/,
    its read receipt (§37) sent."""
    running = start()
    folder = running.folder
    taken = await waiting_in_inbox(running, units["finance"], pki, "已收")
    waiting = await waiting_in_inbox(running, units["finance"], pki, "待收")
    for suffix in (".pdf", ".json"):
        (folder.inbox / f"{taken.id}{suffix}").rename(folder.done / f"{taken.id}{suffix}")
    await running.until(lambda: receipt_sent(settings, taken.id), "the read receipt")
    # The router's link watch sends this after 24 hours of silence; here it comes at once.
    notice = wire.Notice(
        kind="paper",
        fault_id=1,
        scope=OFFICE,
        fault="heartbeat_lost",
        started_at="2026-11-26T10:30:00.000+08:00",
        at="2026-11-27T10:30:00.000+08:00",
        text="以下公文改为纸质交换",
        documents=[taken.id, waiting.id],
        recipient=OFFICE,
    )
    await publish_to_unit(config, OFFICE, wire.encode(notice))
    await running.until(lambda: bool(news_of_type(folder, "notice")), "the paper notice")

    [news_fields] = news_of_type(folder, "notice")
    assert (news_fields["documents"], news_fields["text"]) == (
        [taken.id, waiting.id],
        "以下公文改为纸质交换",
    )
    assert [path for path in folder.inbox.iterdir() if path.is_file()] == []
    assert (folder.done / f"{taken.id}.pdf").exists()
    assert (folder.refused / f"{waiting.id}.pdf").exists()
    metadata = json.loads((folder.refused / f"{waiting.id}.json").read_text())
    assert metadata["refused"] == "exchanged on paper since 2026-11-27T10:30:00.000+08:00 (§47)"
    assert not receipt_sent(settings, waiting.id)


async def test_news_is_written_once_across_a_restart(
    start: Callable[[], Running], settings: HotFolderSettings
) -> None:
    """A restart writes on from the journal's news cursor. A crash between writing a file and
    advancing the cursor (made here by setting the cursor back) writes that file again under
    its own name with the same bytes; no other file is written again, none is missing."""
    running = start()
    folder = running.folder
    drop(folder.outbox, "一.pdf", sidecar("第一份"))
    await running.until(lambda: len(news(folder)) == 2, "accepted and delivered")
    await running.stop()
    before = {path.name: (path.stat().st_ino, path.read_bytes()) for path in folder.news.iterdir()}
    first, second = sorted(before)
    journal = Journal(settings.journal)
    journal.mark_news_written(int(first[:10]))
    journal.close()

    running = start()
    drop(folder.outbox, "二.pdf", sidecar("第二份"))
    await running.until(lambda: len(news(folder)) == 4, "the second document's news")

    after = {path.name: (path.stat().st_ino, path.read_bytes()) for path in folder.news.iterdir()}
    assert len(after) == 4 and set(before) < set(after)
    assert after[first] == before[first]
    assert after[second][1] == before[second][1] and after[second][0] != before[second][0]
    one, two = (
        json.loads((folder.sent / f"{name}.sent.json").read_text())["id"]
        for name in ("一.pdf", "二.pdf")
    )
    assert [(fields["doc_id"], fields["state"]) for _, fields in news(folder)] == [
        (one, "accepted"),
        (one, "delivered"),
        (two, "accepted"),
        (two, "delivered"),
    ]


async def test_a_restart_sends_the_journaled_envelope_not_a_new_one(
    start: Callable[[], Running],
    settings: HotFolderSettings,
    pki: Pki,
    units: dict[str, UnitClient],
    config: Config,
) -> None:
    """The crash points one by one, as a kill -9 leaves them: a drop journaled but never
    published, one published whose answer was never read, and one whose files were half
    moved. The next start sends the first two with their journaled envelope and message id,
    and finishes filing the third; each document reaches the exchange once."""
    folder = Folder(settings.folder)
    journal = Journal(settings.journal)
    journaled = {}
    for name, title in (("unpublished.pdf", "未发出"), ("unanswered.pdf", "未回复")):
        drop(folder.outbox, name, sidecar(title))
        envelope = sealed_envelope(pki.signing[OFFICE], title=title)
        body = wire.encode(submit(envelope))
        journaled[name] = journal.add_sending(name, envelope.id, uuid7(), body)
    unanswered = journaled["unanswered.pdf"]
    assert unanswered.body is not None and unanswered.message_id is not None
    await units[OFFICE].publish_encoded(unanswered.body, unanswered.message_id, "submit")
    drop(folder.outbox, "half-filed.pdf", sidecar("半归档", to=["nobody"]))
    journal.add_rejected("half-filed.pdf", "unknown_recipient: nobody\n", False)
    (folder.outbox / "half-filed.pdf").rename(folder.rejected / "half-filed.pdf")
    journal.close()

    running = start()
    for name in journaled:
        await running.until((folder.sent / f"{name}.sent.json").exists, f"{name} filed")
        note = json.loads((folder.sent / f"{name}.sent.json").read_text())
        assert (note["id"], note["message_id"]) == (
            journaled[name].envelope_id,
            journaled[name].message_id,
        )
    await running.until((folder.rejected / "half-filed.pdf.rejected.txt").exists, "filing")
    assert (folder.rejected / "half-filed.pdf.toml").exists()
    assert list(folder.outbox.iterdir()) == []
    assert documents_by_title(config) == {"未发出": 1, "未回复": 1}


def test_the_example_settings_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples an operator copies are valid as shipped (less the password files)."""
    for name in ("unit-example.toml", "hotfolder-example.toml"):
        text = (REPO / "config" / name).read_text()
        (tmp_path / name).write_text(text.replace("seal_password_file =", "# "))
    monkeypatch.setenv("DOCEX_SEAL_PASSWORD", "x")
    settings = load_hotfolder_settings(tmp_path / "hotfolder-example.toml")
    assert (settings.unit.unit, settings.poll_interval_s) == ("finance", 0.5)
    assert settings.folder == Path("/srv/docex/finance")


async def docex(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docex.cli",
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


def write_settings(tmp_path: Path, settings: HotFolderSettings, poll_interval_ms: int) -> Path:
    unit_file = write_unit_settings(tmp_path / "unit.toml", settings.unit)
    path = tmp_path / "hotfolder.toml"
    path.write_text(
        f"unit_settings = {json.dumps(str(unit_file))}\n"
        f"folder = {json.dumps(str(settings.folder))}\n"
        f"journal = {json.dumps(str(settings.journal))}\n"
        f"poll_interval_ms = {poll_interval_ms}\n"
    )
    return path


async def test_the_command_refuses_a_wrong_password_in_one_line(
    settings: HotFolderSettings, tmp_path: Path
) -> None:
    config = write_settings(tmp_path, settings, 50)
    code, output = await docex(
        "adapter", "hotfolder", "--config", str(config), env={"DOCEX_SEAL_PASSWORD": "wrong"}
    )
    assert code == 2
    assert output.startswith("error: ") and output.count("\n") == 1, output


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    docex_bin = str(Path(sys.executable).parent / "docex")
    for template in ("docex-hotfolder@.service", "docex-mqtt@.service"):
        text = (REPO / "systemd" / template).read_text()
        unit = tmp_path / template.replace("@", "@finance")
        unit.write_text(text.replace("/opt/docex/.venv/bin/docex", docex_bin))
        done = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", "--recursive-errors=no", str(unit)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (done.returncode, done.stderr) == (0, ""), template


def open_drops(journal: Path) -> int:
    """Drops sealed and journaled but not yet filed: the work a kill interrupts."""
    connection = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        (count,) = connection.execute("SELECT count(*) FROM drops WHERE filed = 0").fetchone()
    finally:
        connection.close()
    return int(count)


def frozen_in_flight(adapter: subprocess.Popen[bytes], journal: Path) -> bool:
    """Stop the adapter (SIGSTOP); leave it stopped if it holds drops in flight, otherwise
    let it go on. The journal is in WAL mode: reading it never waits on the stopped writer."""
    adapter.send_signal(signal.SIGSTOP)
    if open_drops(journal) > 0:
        return True
    adapter.send_signal(signal.SIGCONT)
    return False


def start_adapter(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "docex.cli", "adapter", "hotfolder", "--config", str(config)],
        env={**os.environ, "DOCEX_SEAL_PASSWORD": SEAL_PASSWORD},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_200_drops_through_repeated_kill_9_are_each_sent_exactly_once(
    router: Router, settings: HotFolderSettings, config: Config, tmp_path: Path
) -> None:
    """Half the drops are there at the start, half arrive while the adapter is killed and
    restarted; every kill -9 lands mid-stream. Each document reaches the exchange once: the
    journal resends a sealed envelope under its message id instead of sealing a new one."""
    count = 200
    folder = Folder(settings.folder)
    adapter_config = write_settings(tmp_path, settings, 20)
    titles = [f"第{i:03d}号" for i in range(count)]

    def sent() -> int:
        return len(list(folder.sent.glob("*.sent.json")))

    for i in range(count // 2):
        drop(folder.outbox, f"{i:03d}.pdf", sidecar(titles[i]))
    adapter = start_adapter(adapter_config, tmp_path / "adapter.log")
    kills = []
    try:
        for kill_at, batch in ((20, range(100, 150)), (80, range(150, 200)), (160, range(0))):
            await eventually(lambda at=kill_at: sent() >= at, f"{kill_at} sent", timeout=60)
            # Killed only while frozen with drops in flight: between a check and the kill a
            # fast adapter filed them all (once in a CI run, "[62, 0, 9] drops open").
            await eventually(
                functools.partial(frozen_in_flight, adapter, settings.journal),
                "the adapter frozen with drops in flight",
                timeout=60,
            )
            adapter.send_signal(signal.SIGKILL)
            adapter.wait()
            kills.append(open_drops(settings.journal))
            for i in batch:
                drop(folder.outbox, f"{i:03d}.pdf", sidecar(titles[i]))
            adapter = start_adapter(adapter_config, tmp_path / "adapter.log")
        await eventually(lambda: sent() == count, f"all {count} sent", timeout=120)
    finally:
        adapter.send_signal(signal.SIGTERM)
        stopped = adapter.wait(timeout=30)
    assert stopped == 0, "SIGTERM is a clean stop"

    assert all(kills), f"a kill found nothing in flight: {kills} drops open"
    assert documents_by_title(config) == dict.fromkeys(titles, 1)
    assert list(folder.outbox.iterdir()) == []
    assert list(folder.rejected.iterdir()) == []
    for i in range(count):
        note = json.loads((folder.sent / f"{i:03d}.pdf.sent.json").read_text())
        assert note["title"] == titles[i]
    ledger = open_ledger(config.router.ledger, read_only=True)
    try:
        (deliveries,) = ledger.connection.execute(
            "SELECT count(*) FROM deliveries WHERE recipient = 'finance'"
        ).fetchone()
    finally:
        ledger.close()
    assert deliveries == count


async def test_a_drop_sent_again_from_the_command_line_is_a_repeat(
    start: Callable[[], Running], config: Config, settings: HotFolderSettings, tmp_path: Path
) -> None:
    """§31: the hot folder keeps what it sends in the unit's mailbox, as `docex unit send`
    does: the same file, 文号 and recipients sent again by a clerk is refused with the first
    id, and the router holds one document."""
    from tests.command_line import docex as clerk
    from tests.command_line import sent_id

    running = start()
    folder = running.folder
    drop(folder.outbox, "通知.pdf", sidecar("关于年终工作的通知", cc=["education"]))
    note = folder.sent / "通知.pdf.sent.json"
    await running.until(note.exists, "the sent note")
    first = json.loads(note.read_text())["id"]

    document = tmp_path / "again.pdf"
    document.write_bytes(PDF)
    unit_file = write_unit_settings(tmp_path / "unit.toml", settings.unit)
    code, out = await clerk(
        "unit", "--config", str(unit_file), "send", str(document),
        "--to", "finance", "--cc", "education", "--copies-all", "1",
        "--title", "retyped", "--doc-no", "穗府办〔2026〕12号", "--sealed-by", "张三",
    )  # fmt: skip
    assert code == 1 and out.startswith("already sent:"), out
    assert sent_id(out) == first
    assert documents_by_title(config) == {"关于年终工作的通知": 1}


async def test_a_clerks_send_dropped_again_is_refused_with_the_first_id(
    start: Callable[[], Running], config: Config, settings: HotFolderSettings, tmp_path: Path
) -> None:
    """§31: a clerk sends with `docex unit send`, then the same file, 文号 and recipients come
    through the hot folder: the drop is refused with the first id in its rejected/ note, and
    the recipient gets one document. `again = true` in the sidecar sends it as a new one."""
    from tests.command_line import docex as clerk
    from tests.command_line import sent_id

    running = start()
    folder = running.folder
    document = tmp_path / "notice.pdf"
    document.write_bytes(PDF)
    unit_file = write_unit_settings(tmp_path / "unit.toml", settings.unit)
    code, out = await clerk(
        "unit", "--config", str(unit_file), "send", str(document),
        "--to", "education", "--cc", "finance", "--copies-all", "1",
        "--title", "关于年终工作的通知", "--doc-no", "穗府办〔2026〕12号", "--sealed-by", "张三",
    )  # fmt: skip
    assert code == 0, out
    first = sent_id(out)

    fields = {"to": ["education"], "cc": ["finance"], "title": "retyped"}
    drop(folder.outbox, "通知.pdf", sidecar(**fields))
    note = folder.rejected / "通知.pdf.rejected.txt"
    await running.until(note.exists, "the rejection note")
    assert note.read_text().startswith(
        f"already_sent: already sent: 穗府办〔2026〕12号 《关于年终工作的通知》 id {first};"
    )
    assert documents_by_title(config) == {"关于年终工作的通知": 1}

    drop(folder.outbox, "通知.pdf", sidecar(**fields, again=True))
    await running.until((folder.sent / "通知.pdf.sent.json").exists, "the sent note")
    assert documents_by_title(config) == {"关于年终工作的通知": 1, "retyped": 1}


async def test_a_clerks_send_the_broker_never_confirmed_goes_out_with_the_drop(
    start: Callable[[], Running], config: Config, settings: HotFolderSettings, pki: Pki
) -> None:
    """§31: `docex unit send` recorded a document but the broker never confirmed it (the clerk
    was told "not sent yet"). The same file, 文号 and recipients dropped into the hot folder
    send that document, under its first id, once."""
    from docex.ledger.mailbox import Mailbox
    from docex.unit.compose import sending_fingerprint

    envelope = sealed_envelope(pki.signing[OFFICE], title="未确认的发文")
    mailbox = Mailbox(Path(settings.unit.mailbox))
    mailbox.record_sending(
        sending_fingerprint(PDF, doc_no=envelope.doc_no, to=["finance"], cc=[]),
        envelope.id,
        uuid7(),
        wire.encode(submit(envelope)),
    )
    mailbox.close()

    running = start()
    drop(running.folder.outbox, "x.pdf", sidecar("retyped"))
    note = running.folder.sent / "x.pdf.sent.json"
    await running.until(note.exists, "the sent note")
    assert json.loads(note.read_text())["id"] == envelope.id
    assert documents_by_title(config) == {"未确认的发文": 1}
