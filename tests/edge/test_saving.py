"""`docex unit … inbox --save` and `download --save` against documents whose 文号 (inbox
names files `<文号> <标题>`) or id (download names them by id) a hostile (but legitimately
sealed) sender chose: every file lands inside the chosen directory, and a document that
cannot be saved is reported and never holds up the ones after it.

The router checks ids, so these deliveries are handed straight to the unit's queue, as a
compromised path would; the router is not needed, and `download` gets its answer the same way.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import unicodedata
from pathlib import Path

import aio_pika
import pytest

from docex import wire
from docex.config import Config
from docex.topology import Names
from docex.unit.delivery_files import readable_name
from tests.command_line import docex
from tests.conftest import Pki, UnitConfigWriter
from tests.documents import PDF, delivered, sealed_envelope
from tests.edge.test_hotfolder import publish_to_unit

UNIT = "finance"
HOSTILE_TEXTS = {
    "parent": "../../x",
    "absolute": "{tmp_path}/abs",
    "nul": "x\0y",
    "dotdot": "..",
    "long": "文" * 5000,
    "terminal": "x\n\x1b[2J\x1b[31mred",
    "chinese": "穗府办〔2026〕12号",
    "windows": "CON",
}


def delivery(pki: Pki, **headers: object) -> wire.Deliver:
    """A document the General Office sealed with its real seal: only the headers are odd."""
    return delivered(sealed_envelope(pki.signing["gov-office"], to=[UNIT], **headers))


async def hand_over(config: Config, *deliveries: wire.Deliver) -> None:
    for deliver in deliveries:
        await publish_to_unit(config, UNIT, wire.encode(deliver))


def mailbox_records(tmp_path: Path) -> dict[str, tuple[str | None, bool]]:
    """doc id → (saved path, read receipt sent), as the unit's mailbox records them."""
    mailbox = sqlite3.connect(f"file:{tmp_path / 'mailboxes' / f'{UNIT}.sqlite'}?mode=ro", uri=True)
    try:
        rows = mailbox.execute("SELECT doc_id, saved_path, receipt_sent FROM deliveries").fetchall()
    finally:
        mailbox.close()
    return {doc_id: (path, bool(sent)) for doc_id, path, sent in rows}


async def receipts_sent(config: Config) -> list[str]:
    """The documents the unit told the router it read (§37), taken from its intake queue."""
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel()
        # Consumed, not fetched: an intake queue has a single active consumer, and RabbitMQ
        # refuses basic.get on such a queue.
        queue = await channel.declare_queue(
            Names(config.router.prefix).intake_queue(UNIT), passive=True
        )
        waiting = queue.declaration_result.message_count or 0
        found = []
        if waiting:
            async with queue.iterator() as messages:
                async for message in messages:
                    await message.ack()
                    command = wire.decode_command(message.body)
                    if isinstance(command, wire.Receipt) and command.kind == "read":
                        found.append(command.doc_id)
                    waiting -= 1
                    if not waiting:
                        break
        return found


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if not path.is_dir()}


def unprintable(text: str) -> list[str]:
    """Control, format (bidi, zero-width) and separator characters, less the line breaks."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}]


def by_id(save: Path) -> dict[str, Path]:
    """Each saved document's sidecar, found by the id in it."""
    return {json.loads(path.read_text())["id"]: path for path in save.glob("*.json")}


def names_for(envelope: wire.Envelope) -> list[str]:
    """The names inbox --save may give a document: its own, then one with its id."""
    return [readable_name(envelope, lambda name: False), readable_name(envelope, lambda name: True)]


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS.values(), ids=HOSTILE_TEXTS.keys())
async def test_a_hostile_doc_no_is_saved_inside_the_directory_and_so_is_the_next_document(
    hostile: str,
    empty_queues: None,
    config: Config,
    pki: Pki,
    unit_config: UnitConfigWriter,
    tmp_path: Path,
) -> None:
    """§37: both documents are saved inside DIR, under names that are one safe component, and
    both are receipted; nothing is written anywhere else; the terminal gets no control
    characters."""
    hostile_text = hostile.format(tmp_path=tmp_path)
    bad, good = delivery(pki, doc_no=hostile_text), delivery(pki)
    hostile_id = bad.envelope.id
    await hand_over(config, bad, good)
    settings = unit_config(UNIT)
    save = tmp_path / "deep" / "er" / "in"
    before = files_under(tmp_path)

    code, out = await docex("unit", "--config", str(settings), "inbox", "--save", str(save))

    assert code == 0, out
    written = files_under(tmp_path) - before
    assert {path.parent for path in written} == {save, tmp_path / "mailboxes"}
    good_id = good.envelope.id
    saved = {doc_id: path.with_suffix(".pdf") for doc_id, path in by_id(save).items()}
    assert set(saved) == {hostile_id, good_id}
    assert saved[good_id].read_bytes() == PDF
    document = saved[hostile_id]
    assert document.read_bytes() == PDF
    assert len(document.name.encode()) <= 200 and not unprintable(document.name)
    assert len(list(save.iterdir())) == 4
    assert not unprintable(out) and "\0" not in out
    records = mailbox_records(tmp_path)
    assert records == {
        hostile_id: (str(document), True),
        good_id: (str(saved[good_id]), True),
    }
    assert await receipts_sent(config) == [hostile_id, good_id]


async def test_what_a_hostile_doc_no_shows_on_the_terminal_and_on_disk(
    empty_queues: None, config: Config, pki: Pki, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """The 文号 is shown escaped on one line; a Chinese one keeps its name; a Windows device
    name does not become one."""
    terminal, chinese, device = (HOSTILE_TEXTS[key] for key in ("terminal", "chinese", "windows"))
    await hand_over(config, *(delivery(pki, doc_no=text) for text in (terminal, chinese, device)))
    save = tmp_path / "in"

    code, out = await docex(
        "unit", "--config", str(unit_config(UNIT)), "inbox", "--save", str(save)
    )

    assert code == 0, out
    assert out.splitlines()[0].startswith(r"x\n\x1b[2J\x1b[31mred 《关于做好年终工作的通知》")
    assert (save / "穗府办〔2026〕12号 关于做好年终工作的通知.pdf").read_bytes() == PDF
    assert [path.name for path in save.iterdir() if path.name.upper().startswith("CON.")] == []


async def test_doc_nos_alike_once_made_safe_are_saved_apart(
    empty_queues: None, config: Config, pki: Pki, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """A hostile sender cannot make one document overwrite another by choosing 文号 that come
    out the same once their unsafe characters are replaced."""
    doc_nos = ["a/b", "a\\b", "a:b", "a_b"]
    await hand_over(config, *(delivery(pki, doc_no=doc_no) for doc_no in doc_nos))
    save = tmp_path / "in"

    code, out = await docex(
        "unit", "--config", str(unit_config(UNIT)), "inbox", "--save", str(save)
    )

    assert code == 0, out
    sidecars = {json.loads(path.read_text())["doc_no"]: path for path in save.glob("*.json")}
    assert sorted(sidecars) == sorted(doc_nos)
    assert all(path.with_suffix(".pdf").read_bytes() == PDF for path in sidecars.values())
    assert len(list(save.iterdir())) == 2 * len(doc_nos)
    assert sidecars["a_b"].name == "a_b 关于做好年终工作的通知.json"


async def test_a_format_is_an_extension_only_when_it_is_a_short_lowercase_word(
    empty_queues: None, config: Config, pki: Pki, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """Anything else is saved as `.bin`; so is `json`, which the metadata would overwrite."""
    formats = {"../../x": "bin", "json": "bin", "ofd": "ofd"}
    deliveries = {format: delivery(pki, format=format) for format in formats}
    await hand_over(config, *deliveries.values())
    save = tmp_path / "in"

    code, out = await docex(
        "unit", "--config", str(unit_config(UNIT)), "inbox", "--save", str(save)
    )

    assert code == 0, out
    saved = by_id(save)
    for format, extension in formats.items():
        document = saved[deliveries[format].envelope.id].with_suffix(f".{extension}")
        assert document.read_bytes() == PDF
        assert json.loads(document.with_suffix(".json").read_text())["format"] == format
    assert len(list(save.iterdir())) == 2 * len(formats)


async def test_a_document_that_cannot_be_saved_is_reported_and_the_others_go_on(
    empty_queues: None, config: Config, pki: Pki, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """§37: the read receipt goes only for what was saved. A document in the way (a directory
    where its file goes, a link planted to write through) is named with the reason, gets no
    receipt, and makes the run fail; the next document is saved all the same, and a later run
    saves the others once the way is clear."""
    blocked, planted, good = (delivery(pki, doc_no=f"{n}号") for n in (1, 2, 3))
    save = tmp_path / "in"
    for name in names_for(blocked.envelope):
        (save / name).mkdir(parents=True)
    outside = tmp_path / "outside.pdf"
    for name in names_for(planted.envelope):
        (save / name).symlink_to(outside)  # dangling: nothing is there yet
    await hand_over(config, blocked, planted, good)
    settings = unit_config(UNIT)

    code, out = await docex("unit", "--config", str(settings), "inbox", "--save", str(save))

    assert code == 1, out
    not_saved = [line for line in out.splitlines() if line.startswith("NOT SAVED")]
    assert [line.split()[2] for line in not_saved] == ["1号", "2号"]
    assert "Is a directory" in not_saved[0] and "outside" in not_saved[1]
    assert all(line.endswith("; the others continue") for line in not_saved)
    assert not outside.exists()
    assert (save / names_for(good.envelope)[0]).read_bytes() == PDF
    records = mailbox_records(tmp_path)
    assert [records[d.envelope.id][1] for d in (blocked, planted, good)] == [False, False, True]
    assert await receipts_sent(config) == [good.envelope.id]

    for name in names_for(blocked.envelope):
        (save / name).rmdir()
    for name in names_for(planted.envelope):
        (save / name).unlink()
    code, out = await docex("unit", "--config", str(settings), "inbox", "--save", str(save))
    assert code == 0, out
    assert await receipts_sent(config) == [blocked.envelope.id, planted.envelope.id]
    assert (save / names_for(planted.envelope)[0]).read_bytes() == PDF


async def answer_one_receipt(config: Config) -> wire.Receipt:
    """Take the unit's next command off its intake queue and answer it `received`, as the
    router does when it allows a download (§36)."""
    connection = await aio_pika.connect(config.router.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        names = Names(config.router.prefix)
        queue = await channel.get_queue(names.intake_queue(UNIT), ensure=False)
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                command = wire.decode_command(message.body)
                assert isinstance(command, wire.Receipt)
                answer = wire.Status(
                    ref=message.message_id or "",
                    doc_id=command.doc_id,
                    state="received",
                    at="2026-11-26T10:05:00.000+08:00",
                )
                outbound = await channel.get_exchange(names.outbound, ensure=False)
                await outbound.publish(
                    aio_pika.Message(wire.encode(answer), message_id="answer"), routing_key=UNIT
                )
                return command
    raise AssertionError("the router's queue closed")


async def test_a_download_with_a_hostile_id_is_saved_inside_the_directory(
    empty_queues: None, config: Config, pki: Pki, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """§36: the declassified copy is saved inside DIR whatever its id."""
    hostile_id = "../../x"
    await hand_over(config, delivery(pki, id=hostile_id))
    settings = unit_config(UNIT)
    save = tmp_path / "deep" / "er" / "in"
    before = files_under(tmp_path)

    command, (code, out) = await asyncio.gather(
        answer_one_receipt(config),
        docex("unit", "--config", str(settings), "download", hostile_id, "--save", str(save)),
    )

    assert (code, command.doc_id, command.kind) == (0, hostile_id, "downloaded"), out
    written = files_under(tmp_path) - before
    assert {path.parent for path in written} == {save, tmp_path / "mailboxes"}
    [document] = save.iterdir()
    assert document.read_bytes() == PDF and document.suffix == ".pdf"
    assert f"saved {document}" in out
