"""The sending side of a hot folder: a complete drop is sealed once, journaled, published, and
filed in sent/ or rejected/ once the router has answered.

What happens at each crash point (kill -9, power loss after the journal's fsync):
- before the journal row: nothing left the unit; the drop is still in outbox/ and is sealed
  afresh next time, as if first seen;
- after the row, before or during the publish, or before the answer: the next start publishes
  the journaled bytes again under the same message id; the router applies it once;
- after the answer is journaled, while moving files: the moves are redone under the journaled
  names, then the note is written; the drop is marked filed last.
"""

from __future__ import annotations

import json

import structlog

from docex import formats, wire
from docex.adapters.hotfolder.folder import Folder
from docex.adapters.hotfolder.sidecar import DropError, Sidecar, parse_sidecar
from docex.cli import rejections
from docex.clock import Clock
from docex.i18n import _
from docex.ids import uuid7
from docex.ledger.journal import Drop, Journal
from docex.ledger.mailbox import SentDocument
from docex.seals.seal import Seal
from docex.unit.client import UnitClient
from docex.unit.compose import apply_seal, compose, sending_fingerprint

log = structlog.get_logger("docex.hotfolder")


class Outgoing:
    def __init__(
        self,
        folder: Folder,
        journal: Journal,
        client: UnitClient,
        seal: Seal,
        *,
        sealed_by: str,
        max_document_bytes: int,
        clock: Clock,
    ) -> None:
        self._folder = folder
        self._journal = journal
        self._client = client
        self._seal = seal
        self._sealed_by = sealed_by
        self._max_document_bytes = max_document_bytes
        self._clock = clock
        # Drops published by this process. Whatever else the journal holds unanswered was
        # published (or not) before a restart, and goes out again.
        self._published: set[int] = set()

    async def step(self) -> None:
        """One round: file what the router answered, resend what this process has not sent,
        take new drops. Expects the unit's queue drained into the mailbox just before."""
        open_drops = self._journal.open_drops()
        for drop in open_drops:
            await self._advance(drop)
        open_names = {drop.name for drop in open_drops}
        for name in self._folder.complete_drops():
            if name not in open_names:
                await self._take(name)

    async def _advance(self, drop: Drop) -> None:
        if drop.outcome is None:
            answer = self._client.mailbox.answer_to(drop.message_id or "")
            if answer is None:
                if drop.id not in self._published:
                    log.info("resending", file=drop.name, doc_id=drop.envelope_id)
                    await self._publish(drop)
                return
            drop = self._settle(drop, answer)
        self._file(drop)

    async def _take(self, name: str) -> None:
        try:
            content, sidecar_text = self._folder.read_drop(name, self._max_document_bytes)
            sidecar = parse_sidecar(sidecar_text, f"{name}.toml")
            earlier = None if sidecar.again else self._clerk_sent(content, sidecar)
            if earlier is not None:
                body, message_id = earlier.submit, earlier.message_id
            else:
                body, message_id = wire.encode(self._prepare(name, content, sidecar)), uuid7()
        except DropError as error:
            note = f"{error.code}: {error.message}\n"
            taken = self._folder.result_taken("rejected", name)
            self._file(self._journal.add_rejected(name, note, taken))
            return
        doc_id = _submitted(body).envelope.id
        drop = self._journal.add_sending(name, doc_id, message_id, body)
        log.info("sealed", file=name, doc_id=doc_id, message_id=drop.message_id)
        await self._publish(drop)

    def _clerk_sent(self, content: bytes, sidecar: Sidecar) -> SentDocument | None:
        """A drop that repeats what a clerk sent with `docex unit send` (same file, 文号 and
        recipients) is refused with the first id, as the command refuses a repeat. One the
        broker never confirmed goes out now as that document, once: the router applies its
        message id once."""
        fingerprint = sending_fingerprint(
            content, doc_no=sidecar.doc_no, to=sidecar.to, cc=sidecar.cc
        )
        earlier = self._client.mailbox.earlier_send(fingerprint)
        if earlier is None or self._journal.sealed_here(earlier.doc_id):
            return None
        if not earlier.confirmed:
            return earlier
        envelope = _submitted(earlier.submit).envelope
        raise DropError(
            "already_sent",
            _(
                "already sent: {doc_no} 《{title}》 id {id}; `docex unit status {id}` shows"
                " where it is; again = true in the sidecar sends it once more as a new document"
            ).format(doc_no=envelope.doc_no, title=envelope.title, id=envelope.id),
        )

    def _prepare(self, name: str, content: bytes, sidecar: Sidecar) -> wire.Submit:
        format_name = sidecar.format or formats.detect(content)
        if format_name is None:
            raise DropError(
                "unknown_format",
                _("{name} is neither PDF nor OFD; name its format in the sidecar").format(
                    name=name
                ),
            )
        now = self._clock.now()
        envelope = compose(
            content,
            sender=self._client.unit_id,
            to=sidecar.to,
            cc=sidecar.cc,
            print_quota=sidecar.copies,
            title=sidecar.title,
            doc_no=sidecar.doc_no,
            format=format_name,
            classification=sidecar.classification,
            paper_attachments=sidecar.paper_attachments,
            now=now,
        )
        sealed_by = sidecar.sealed_by or self._sealed_by
        sealed = apply_seal(envelope, self._seal, sealed_by=sealed_by, now=now)
        return wire.Submit(v=wire.VERSION, envelope=sealed)

    async def _publish(self, drop: Drop) -> None:
        assert drop.body is not None and drop.message_id is not None
        # Kept in the unit's mailbox too, as `docex unit send` keeps what it sends: the same
        # file, 文号 and recipients sent again from the command line is then a repeat. After
        # the journal's row (a drop is sealed once) and again on every publish, so a crash in
        # between leaves the mailbox short of nothing.
        envelope = _submitted(drop.body).envelope
        mailbox = self._client.mailbox
        mailbox.record_sending(
            sending_fingerprint(
                envelope.content, doc_no=envelope.doc_no, to=envelope.to, cc=envelope.cc
            ),
            envelope.id,
            drop.message_id,
            drop.body,
        )
        await self._client.publish_encoded(drop.body, drop.message_id, "submit")
        mailbox.mark_sent_confirmed(envelope.id)
        self._published.add(drop.id)

    def _settle(self, drop: Drop, answer: wire.Answer) -> Drop:
        if isinstance(answer, wire.Status) and answer.state == "accepted":
            note = _sent_note(drop, answer)
            outcome = "sent"
        elif isinstance(answer, wire.Status):
            # The router's English sentence, written again in the clerk's language.
            note = f"{answer.reason}: {rejections.detail(answer.message)}\n"
            outcome = "rejected"
        else:
            note = _("unexpected_answer: the router answered {kind}").format(
                kind=wire.type_name(answer)
            )
            note += "\n"
            outcome = "rejected"
        taken = self._folder.result_taken(outcome, drop.name)
        return self._journal.set_outcome(drop, outcome, note, taken)

    def _file(self, drop: Drop) -> None:
        self._folder.file_result(drop)
        self._journal.mark_filed(drop)
        self._published.discard(drop.id)
        if drop.outcome == "sent":
            log.info("sent", file=drop.name, doc_id=drop.envelope_id, filed_as=drop.dest)
        else:
            log.warning("rejected", file=drop.name, reason=(drop.note or "").strip())


def _submitted(body: bytes) -> wire.Submit:
    command = wire.decode_command(body)
    assert isinstance(command, wire.Submit)
    return command


def _sent_note(drop: Drop, answer: wire.Status) -> str:
    assert drop.body is not None
    envelope = _submitted(drop.body).envelope
    receipt = {
        "id": envelope.id,
        "message_id": drop.message_id,
        "doc_no": envelope.doc_no,
        "title": envelope.title,
        "to": envelope.to,
        "cc": envelope.cc,
        "sent_at": answer.at,
        "exchange_date": answer.exchange_date,
    }
    return json.dumps(receipt, ensure_ascii=False, indent=2)
