"""Control files: what an office system asks of the exchange besides sending, by dropping a
small TOML file into control/ (the package doc and README show each):

    action = "print"            # print | return | resend_request | resend | quota_request
                                # | quota_grant | withdraw | status
    doc_id = "0192…"            # the document
    copies = 2                  # print, quota_request, quota_grant
    reason = "…"                # return, resend_request, quota_request
    to = "finance"              # resend, quota_grant: the recipient
    from = ["education"]        # withdraw: only from these units (default: all)

A control file is taken by renaming it to control/taken/<message id>--<name>, so a crash
before its answer publishes it again under the same message id, and the router applies it
once. When the answer comes it is moved to control/done/ with `<name>.answer.json` (the
router's answer; for a print grant, the print-ready copies written to print/). A file that
cannot be a command goes to control/rejected/ with `<name>.rejected.txt`. The answer is in
news/ too, like every message, its `ref` the message id.
"""

from __future__ import annotations

import json
import os
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
import structlog

from docex import wire
from docex.config_shape import msgspec_problem
from docex.error_text import toml_problem
from docex.filenames import write_inside
from docex.i18n import _
from docex.ids import uuid7
from docex.seals.seal import Seal
from docex.unit.client import UnitClient
from docex.unit.print_copies import (
    NotPrintable,
    check_grant_seal,
    copy_file_name,
    copy_marks,
    page_count,
    stamped,
)

log = structlog.get_logger("docex.hotfolder")

Action = Literal[
    "print",
    "return",
    "resend_request",
    "resend",
    "quota_request",
    "quota_grant",
    "withdraw",
    "status",
]
_TAKEN_SEPARATOR = "--"


class ControlError(Exception):
    pass


class ControlFile(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename={"from_": "from"}
):
    action: Action
    doc_id: str
    copies: int = 0
    reason: str = ""
    to: str = ""
    from_: list[str] = []


def parse_control(text: str) -> ControlFile:
    try:
        return msgspec.convert(tomllib.loads(text), ControlFile)
    except tomllib.TOMLDecodeError as exc:
        problem = toml_problem(_("the control file"), exc)
        raise ControlError(f"invalid_control: {problem}") from exc
    except msgspec.ValidationError as exc:
        raise ControlError(f"invalid_control: {msgspec_problem(str(exc))}") from exc


def command_for(control: ControlFile) -> wire.Command:
    """The command a control file asks for (a print request still unsealed)."""
    v, doc_id = wire.VERSION, control.doc_id
    needs = {
        "print": ("copies",),
        "return": ("reason",),
        "resend_request": ("reason",),
        "resend": ("to",),
        "quota_request": ("copies", "reason"),
        "quota_grant": ("to", "copies"),
    }.get(control.action, ())
    missing = [field for field in needs if not getattr(control, field)]
    if missing:
        needed = _("{action} needs {fields}").format(
            action=control.action, fields=", ".join(missing)
        )
        raise ControlError(f"invalid_control: {needed}")
    match control.action:
        case "print":
            return wire.PrintRequest(v=v, doc_id=doc_id, copies=control.copies)
        case "return":
            return wire.Return(v=v, doc_id=doc_id, reason=control.reason)
        case "resend_request":
            return wire.ResendRequest(v=v, doc_id=doc_id, reason=control.reason)
        case "resend":
            return wire.Resend(v=v, doc_id=doc_id, recipient=control.to)
        case "quota_request":
            return wire.QuotaRequest(
                v=v, doc_id=doc_id, copies=control.copies, reason=control.reason
            )
        case "quota_grant":
            return wire.QuotaGrant(v=v, doc_id=doc_id, recipient=control.to, copies=control.copies)
        case "withdraw":
            return wire.Withdraw(v=v, doc_id=doc_id, recipients=control.from_)
        case "status":
            return wire.StatusQuery(v=v, doc_id=doc_id)


class Control:
    def __init__(
        self,
        root: Path,
        client: UnitClient,
        verification: Seal | None,
        timezone: ZoneInfo,
    ) -> None:
        self.waiting = root / "control"
        self.taken = self.waiting / "taken"
        self.done = self.waiting / "done"
        self.rejected = self.waiting / "rejected"
        self.printed = root / "print"
        for directory in (self.taken, self.done, self.rejected, self.printed):
            directory.mkdir(parents=True, exist_ok=True)
        self._client = client
        self._verification = verification
        self._timezone = timezone
        # Taken files published by this process; the others go out again after a restart.
        self._published: set[str] = set()

    async def step(self) -> None:
        """Expects the unit's queue drained into the mailbox just before."""
        for taken in sorted(os.listdir(self.taken)):
            await self._advance(taken)
        for name in sorted(os.listdir(self.waiting)):
            path = self.waiting / name
            if name.endswith(".toml") and not name.startswith(".") and path.is_file():
                await self._take(name)

    async def _take(self, name: str) -> None:
        try:
            self._command(parse_control((self.waiting / name).read_text()), "")
        except (ControlError, NotPrintable, UnicodeDecodeError) as exc:
            self._reject(self.waiting / name, name, str(exc))
            return
        taken = f"{uuid7()}{_TAKEN_SEPARATOR}{name}"
        os.replace(self.waiting / name, self.taken / taken)
        await self._advance(taken)

    async def _advance(self, taken: str) -> None:
        message_id, _, name = taken.partition(_TAKEN_SEPARATOR)
        path = self.taken / taken
        try:
            control = parse_control(path.read_text())
        except (ControlError, UnicodeDecodeError) as exc:
            # Changed while it waited: set aside rather than stop the folder.
            self._reject(path, name, str(exc))
            return
        answer = self._client.mailbox.answer_to(message_id)
        if answer is None:
            if taken not in self._published:
                command = self._command(control, message_id)
                await self._client.publish(command, message_id)
                self._published.add(taken)
                log.info("control_sent", file=name, action=control.action, message_id=message_id)
            return
        note: dict[str, object] = {
            "message_id": message_id,
            "answer": msgspec.to_builtins(answer, builtin_types=(bytes,), str_keys=True),
        }
        if isinstance(answer, wire.PrintGrant):
            try:
                note["printed"] = [str(p) for p in self._print(answer)]
            except NotPrintable as exc:
                note["not_printed"] = str(exc)
        text = json.dumps(note, ensure_ascii=False, indent=2, default=lambda b: b.hex())
        write_inside(self.done, f"{name}.answer.json", text.encode())
        os.replace(path, self.done / name)
        self._published.discard(taken)
        log.info("control_answered", file=name, answer=wire.type_name(answer))

    def _command(self, control: ControlFile, message_id: str) -> wire.Command:
        command = command_for(control)
        if not isinstance(command, wire.PrintRequest):
            return command
        if self._verification is None:
            raise NotPrintable(
                _("printing needs verification_carrier in the unit's settings (§35)")
            )
        self._printable(control.doc_id)
        seal = self._verification
        signed = wire.print_request_bytes(command, self._client.unit_id, message_id)
        return msgspec.structs.replace(
            command,
            seal=wire.SealStamp(
                serial=seal.serial, alg="ed25519", cert=seal.certificate_der, sig=seal.sign(signed)
            ),
        )

    def _printable(self, doc_id: str) -> None:
        stored = self._client.mailbox.delivery(doc_id)
        if stored is None:
            raise NotPrintable(_("no document {id} was delivered to this unit").format(id=doc_id))
        page_count(stored.deliver.envelope.content)

    def _print(self, grant: wire.PrintGrant) -> list[Path]:
        assert self._verification is not None
        stored = self._client.mailbox.delivery(grant.doc_id)
        if stored is None:
            raise NotPrintable(
                _("no document {id} was delivered to this unit").format(id=grant.doc_id)
            )
        check_grant_seal(self._client.verifier, grant, datetime.fromisoformat(grant.at))
        envelope = stored.deliver.envelope
        marks = copy_marks(
            grant, self._verification.unit_name, self._verification.serial, self._timezone
        )
        return [
            write_inside(self.printed, copy_file_name(envelope, m), stamped(envelope.content, m))
            for m in marks
        ]

    def _reject(self, path: Path, name: str, reason: str) -> None:
        write_inside(self.rejected, f"{name}.rejected.txt", f"{reason}\n".encode())
        os.replace(path, self.rejected / name)
        log.warning("control_rejected", file=name, reason=reason)
