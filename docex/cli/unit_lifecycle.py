"""`docex unit …` for what follows a delivery (§34–§38): print, download, return, resend,
extra copies, withdraw, paper attachments."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from docex import wire
from docex.cli.unit_support import (
    CommandError,
    print_answer,
    seal_password,
    shown,
    sync,
    with_client,
)
from docex.error_text import file_problem
from docex.filenames import UnsafeFileName, write_inside
from docex.i18n import _
from docex.ids import uuid7
from docex.seals.carrier import PASSWORD_ENV
from docex.unit.delivery_files import document_name
from docex.unit.settings import UnitSettings

if TYPE_CHECKING:
    from docex.unit.client import UnitClient


def add_commands(commands: argparse._SubParsersAction) -> None:
    printing = commands.add_parser(
        "print", help=_("numbered copies to print, sealed and registered with the exchange (§35)")
    )
    printing.add_argument("doc_id")
    printing.add_argument("--copies", type=int, required=True)
    printing.add_argument(
        "--out", type=Path, required=True, help=_("folder for the print-ready PDFs, one per copy")
    )
    printing.add_argument(
        "--seal-password-file",
        type=Path,
        help=_("the verification seal's password (else ${env}, else prompt)").format(
            env=PASSWORD_ENV
        ),
    )
    printing.set_defaults(func=sync(_print))

    download = commands.add_parser("download", help=_("declassified download: a copy (§36)"))
    download.add_argument("doc_id")
    download.add_argument("--save", type=Path, required=True, help=_("directory to save into"))
    download.set_defaults(func=sync(_download))

    give_back = commands.add_parser("return", help=_("send a wrong document back (退回, §34)"))
    give_back.add_argument("doc_id")
    give_back.add_argument("--reason", required=True)
    give_back.set_defaults(
        func=_simple(lambda a: wire.Return(v=wire.VERSION, doc_id=a.doc_id, reason=a.reason))
    )

    resend_request = commands.add_parser(
        "resend-request", help=_("ask the sender to send again (§38)")
    )
    resend_request.add_argument("doc_id")
    resend_request.add_argument("--reason", required=True)
    resend_request.set_defaults(
        func=_simple(lambda a: wire.ResendRequest(v=wire.VERSION, doc_id=a.doc_id, reason=a.reason))
    )

    resend = commands.add_parser("resend", help=_("deliver a document you sent again (§38)"))
    resend.add_argument("doc_id")
    resend.add_argument("--to", required=True, help=_("the recipient"))
    resend.set_defaults(
        func=_simple(lambda a: wire.Resend(v=wire.VERSION, doc_id=a.doc_id, recipient=a.to))
    )

    quota_request = commands.add_parser("quota-request", help=_("ask for extra copies (§38)"))
    quota_request.add_argument("doc_id")
    quota_request.add_argument("--copies", type=int, required=True)
    quota_request.add_argument("--reason", required=True)
    quota_request.set_defaults(
        func=_simple(
            lambda a: wire.QuotaRequest(
                v=wire.VERSION, doc_id=a.doc_id, copies=a.copies, reason=a.reason
            )
        )
    )

    quota_grant = commands.add_parser("quota-grant", help=_("grant a recipient extra copies"))
    quota_grant.add_argument("doc_id")
    quota_grant.add_argument("--to", required=True, help=_("the recipient"))
    quota_grant.add_argument("--copies", type=int, required=True)
    quota_grant.set_defaults(
        func=_simple(
            lambda a: wire.QuotaGrant(
                v=wire.VERSION, doc_id=a.doc_id, recipient=a.to, copies=a.copies
            )
        )
    )

    withdraw = commands.add_parser(
        "withdraw", help=_("withdraw (撤回) from who has not received it")
    )
    withdraw.add_argument("doc_id")
    withdraw.add_argument(
        "--from", dest="recipients", default="", help=_("only from these units: A,B (default: all)")
    )
    withdraw.set_defaults(
        func=_simple(
            lambda a: wire.Withdraw(
                v=wire.VERSION,
                doc_id=a.doc_id,
                recipients=[u for u in a.recipients.split(",") if u],
            )
        )
    )

    attachments = commands.add_parser(
        "attachments-received", help=_("confirm the paper attachments arrived (§28)")
    )
    attachments.add_argument("doc_id")
    attachments.set_defaults(
        func=_simple(lambda a: wire.AttachmentsReceived(v=wire.VERSION, doc_id=a.doc_id))
    )


def _simple(
    build: Callable[[argparse.Namespace], wire.Command],
) -> Callable[[argparse.Namespace], int]:
    """A command that is sent as it is and whose answer is printed."""

    async def action(args: argparse.Namespace, settings: UnitSettings) -> int:
        async def run(client: UnitClient) -> int:
            return print_answer(await client.request(build(args)))

        return await with_client(settings, run)

    return sync(action)


async def _print(args: argparse.Namespace, settings: UnitSettings) -> int:
    """Everything that can fail is checked before the grant is asked for: a grant spends
    copies of the quota for good."""
    from zoneinfo import ZoneInfo

    from docex.seals.seal import open_seal
    from docex.unit.print_copies import (
        NotPrintable,
        check_grant_seal,
        copy_file_name,
        copy_marks,
        page_count,
        stamped,
    )

    if not settings.verification_carrier:
        raise CommandError(_("printing needs verification_carrier in the unit's settings (§35)"))
    seal = open_seal(Path(settings.verification_carrier), seal_password(args.seal_password_file))
    message_id = uuid7()
    request = wire.PrintRequest(v=wire.VERSION, doc_id=args.doc_id, copies=args.copies)
    request = msgspec.structs.replace(
        request,
        seal=wire.SealStamp(
            serial=seal.serial,
            alg="ed25519",
            cert=seal.certificate_der,
            sig=seal.sign(wire.print_request_bytes(request, settings.unit, message_id)),
        ),
    )

    async def run(client: UnitClient) -> int:
        await client.drain()
        stored = client.mailbox.delivery(args.doc_id)
        if stored is None:
            raise CommandError(
                _("no document {id} was delivered to this unit").format(id=shown(args.doc_id))
            )
        if stored.seal_error or stored.withdrawn_at:
            raise CommandError(
                _("{id} is withdrawn or its seal does not verify").format(id=shown(args.doc_id))
            )
        envelope = stored.deliver.envelope
        try:
            pages = page_count(envelope.content)
            args.out.mkdir(parents=True, exist_ok=True)
        except NotPrintable as exc:
            raise CommandError(
                _("{id} cannot be printed here: {reason}").format(id=shown(args.doc_id), reason=exc)
            ) from exc
        answer = await client.request(request, message_id=message_id)
        if not isinstance(answer, wire.PrintGrant):
            return print_answer(answer)
        try:
            check_grant_seal(client.verifier, answer, datetime.now(UTC))
        except NotPrintable as exc:
            raise CommandError(str(exc)) from exc
        marks = copy_marks(answer, seal.unit_name, seal.serial, ZoneInfo(settings.timezone))
        paths = [
            write_inside(args.out, copy_file_name(envelope, mark), stamped(envelope.content, mark))
            for mark in marks
        ]
        total = marks[0].total
        print(
            _(
                "printed: {doc_no} 《{title}》 copies {first}–{last} of {total} (pages per copy:"
                " {pages}), registered by the exchange at {at}; {left} left"
            ).format(
                doc_no=shown(envelope.doc_no),
                title=shown(envelope.title),
                first=answer.first_copy,
                last=answer.last_copy,
                total=total,
                pages=pages,
                at=answer.at,
                left=answer.remaining,
            )
        )
        for path in paths:
            print(f"  {path}")
        return 0

    return await with_client(settings, run)


async def _download(args: argparse.Namespace, settings: UnitSettings) -> int:
    async def run(client: UnitClient) -> int:
        await client.drain()
        stored = client.mailbox.delivery(args.doc_id)
        if stored is None:
            raise CommandError(
                _("no document {id} was delivered to this unit").format(id=shown(args.doc_id))
            )
        if stored.seal_error or stored.withdrawn_at:
            raise CommandError(
                _("{id} is withdrawn or its seal does not verify").format(id=shown(args.doc_id))
            )
        answer = await client.request(
            wire.Receipt(v=wire.VERSION, doc_id=args.doc_id, kind="downloaded")
        )
        if isinstance(answer, wire.Status) and answer.state == "received":
            envelope = stored.deliver.envelope
            try:
                args.save.mkdir(parents=True, exist_ok=True)
                path = write_inside(args.save, document_name(envelope), envelope.content)
            except (OSError, UnsafeFileName) as exc:
                problem = file_problem(exc) if isinstance(exc, OSError) else shown(str(exc), None)
                raise CommandError(
                    _("{id} not saved: {problem}").format(id=shown(args.doc_id), problem=problem)
                ) from exc
            print(_("saved {path}").format(path=path))
        return print_answer(answer)

    return await with_client(settings, run)
