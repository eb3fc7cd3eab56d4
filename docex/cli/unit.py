"""`docex unit …`: what a unit's staff or integrator runs to send and receive documents."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from docex import formats, wire
from docex.cli import unit_arrange, unit_info, unit_lifecycle
from docex.cli.options import add_config_option_everywhere
from docex.cli.rejections import state_word
from docex.cli.table import table_lines
from docex.cli.unit_support import (
    CommandError,
    NotSentYet,
    person_shown,
    print_answer,
    read_file,
    reason_shown,
    seal_password,
    shown,
    sync,
    with_client,
)
from docex.filenames import UnsafeFileName
from docex.i18n import _
from docex.seals.carrier import PASSWORD_ENV
from docex.unit.delivery_files import readable_name, save_delivery
from docex.unit.settings import UnitSettings

if TYPE_CHECKING:
    from docex.unit.client import UnitClient


def add_unit_commands(subparsers: argparse._SubParsersAction) -> None:
    unit = subparsers.add_parser("unit", help=_("send and receive documents as a unit"))
    commands = unit.add_subparsers(dest="unit_command", required=True, metavar="COMMAND")

    send = commands.add_parser("send", help=_("seal a PDF or OFD file and send it"))
    send.add_argument("file", type=Path, help=_("the PDF or OFD file"))
    send.add_argument("--to", type=_unit_list, required=True, help=_("main recipients (主送): A,B"))
    send.add_argument("--cc", type=_unit_list, default=[], help=_("copy recipients (抄送): C,D"))
    # §31: the sender sets the copies each recipient may print; a forgotten one is an error,
    # not a quota of 0.
    copies = send.add_mutually_exclusive_group(required=True)
    copies.add_argument(
        "--copies", type=_copies, help=_("copies each recipient may print (§31): A=3,C=1")
    )
    copies.add_argument(
        "--copies-all",
        type=_count,
        metavar="N",
        help=_("the same number of copies for every recipient"),
    )
    send.add_argument("--title", required=True, help=_("title (标题)"))
    send.add_argument("--doc-no", required=True, help=_("document number (文号)"))
    send.add_argument(
        "--classification",
        default="public",
        choices=["public", "internal"],
        help=_("secret and above are never exchanged (§4)"),
    )
    send.add_argument("--format", help=_("pdf, ofd or a configured one (default: from the file)"))
    send.add_argument(
        "--sealed-by",
        help=_("who applies the seal (§29), by name (else sealed_by in the settings)"),
    )
    send.add_argument(
        "--sent-by", help=_("who sends it (§29), by name (else sent_by in the settings)")
    )
    send.add_argument(
        "--again",
        action="store_true",
        help=_("send as a new document what this unit already sent (same file, 文号, recipients)"),
    )
    send.add_argument(
        "--seal-password-file",
        type=Path,
        help=_("the seal carrier's password (else ${env}, else prompt)").format(env=PASSWORD_ENV),
    )
    send.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help=_("seconds to wait for the router's answer; the document stays queued after"),
    )
    send.set_defaults(func=sync(_send))

    inbox = commands.add_parser("inbox", help=_("fetch delivered documents, verify their seals"))
    inbox.add_argument(
        "--save",
        type=Path,
        help=_("save verified documents here as '<文号> <标题>.pdf' and send read receipts (§37)"),
    )
    inbox.add_argument(
        "--all", action="store_true", help=_("every document delivered, not only new")
    )
    inbox.set_defaults(func=sync(_inbox))

    status = commands.add_parser("status", help=_("where a document is, recipient by recipient"))
    status.add_argument("doc_id")
    status.add_argument("--timeout", type=float, default=30.0)
    status.set_defaults(func=sync(_status))

    events = commands.add_parser(
        "events", help=_("news from the router: documents you sent, outages and paper notices")
    )
    events.add_argument("doc_id", nargs="?")
    events.set_defaults(func=sync(_events))

    units = commands.add_parser("units", help=_("the units on the exchange: id, name, state"))
    units.add_argument("--timeout", type=float, default=30.0)
    units.set_defaults(func=sync(_units))

    unit_lifecycle.add_commands(commands)
    unit_info.add_commands(commands)
    unit_arrange.add_commands(commands)
    add_config_option_everywhere(unit, _("the unit's settings file"))


async def _send(args: argparse.Namespace, settings: UnitSettings) -> int:
    """Safe to repeat: the same file, 文号 and recipients sent again is found in the unit's
    mailbox and refused with the first id (unless --again); a send the broker never
    confirmed is published again as it was, and the router applies a message id once."""
    from docex.ledger.mailbox import Mailbox
    from docex.unit.client import BROKER_UNAVAILABLE
    from docex.unit.compose import sending_fingerprint

    print_quota = _print_quota(args)
    content = read_file(args.file)
    format_name = args.format or formats.detect(content)
    if format_name is None:
        raise CommandError(
            _("{file} is neither PDF nor OFD; name its format with --format").format(file=args.file)
        )
    fingerprint = sending_fingerprint(content, doc_no=args.doc_no, to=args.to, cc=args.cc)
    mailbox = Mailbox(Path(settings.mailbox))
    try:
        earlier = None if args.again else mailbox.earlier_send(fingerprint)
        if earlier is not None and earlier.confirmed:
            envelope = _submitted(earlier.submit).envelope
            print(
                _(
                    "already sent: {doc_no} 《{title}》 id {id}; `docex unit status {id}` shows"
                    " where it is; --again sends it once more as a new document"
                ).format(doc_no=shown(envelope.doc_no), title=shown(envelope.title), id=envelope.id)
            )
            return 1
        if earlier is not None:
            body, message_id = earlier.submit, earlier.message_id
        else:
            body, message_id = _sealed_submit(args, settings, content, format_name, print_quota)
            doc_id = _submitted(body).envelope.id
            mailbox.record_sending(fingerprint, doc_id, message_id, body)
    finally:
        mailbox.close()
    envelope = _submitted(body).envelope

    async def send(client: UnitClient) -> int:
        await client.publish_encoded(body, message_id, "submit")
        client.mailbox.mark_sent_confirmed(envelope.id)
        print(
            _("sent: {doc_no} 《{title}》 id {id}").format(
                doc_no=shown(envelope.doc_no), title=shown(envelope.title), id=envelope.id
            )
        )
        try:
            answer = await client.answer_if_router_listens(message_id, args.timeout)
        except BROKER_UNAVAILABLE:
            answer = None  # the broker has the document; only its answer is not to be had now
        if answer is None:
            print(
                _(
                    "queued: will be delivered when the exchange is back;"
                    " check with `docex unit status {id}`"
                ).format(id=envelope.id)
            )
            return 0
        if not isinstance(answer, wire.Status) or answer.state != "accepted":
            return print_answer(answer)
        print(
            _("accepted: sent at {at}, counts as sent on {date} (§30, §32)").format(
                at=answer.at, date=answer.exchange_date
            )
        )
        if answer.arrangements:
            print(
                _("  dated by the out-of-hours arrangement {ids} (§30)").format(
                    ids=", ".join(answer.arrangements)
                )
            )
        return 0

    try:
        return await with_client(settings, send)
    except CommandError:
        raise
    except Exception as exc:
        if _confirmed(settings, envelope.id):
            raise
        raise NotSentYet(exc, envelope.id) from exc


def _sealed_submit(
    args: argparse.Namespace,
    settings: UnitSettings,
    content: bytes,
    format_name: str,
    print_quota: dict[str, int],
) -> tuple[bytes, str]:
    """The sealed submit command, encoded, and the message id it goes out under."""
    from docex.ids import uuid7
    from docex.seals.seal import open_seal
    from docex.unit.compose import apply_seal, compose

    sealed_by = args.sealed_by or settings.sealed_by
    if not sealed_by:
        raise CommandError(
            _(
                "say who applies the seal (§29): --sealed-by NAME, or sealed_by in the unit's"
                " settings"
            )
        )
    seal = open_seal(Path(settings.seal_carrier), seal_password(args.seal_password_file))
    now = datetime.now(UTC)
    envelope = compose(
        content,
        sender=settings.unit,
        to=args.to,
        cc=args.cc,
        print_quota=print_quota,
        title=args.title,
        doc_no=args.doc_no,
        format=format_name,
        classification=args.classification,
        now=now,
    )
    envelope = apply_seal(envelope, seal, sealed_by=sealed_by, now=now)
    envelope = msgspec.structs.replace(envelope, sent_by=args.sent_by or settings.sent_by)
    return wire.encode(wire.Submit(v=wire.VERSION, envelope=envelope)), uuid7()


def _confirmed(settings: UnitSettings, doc_id: str) -> bool:
    """Whether the broker confirmed this document: then it went out, whatever failed after."""
    from docex.ledger.mailbox import Mailbox

    mailbox = Mailbox(Path(settings.mailbox))
    try:
        return mailbox.sent_confirmed(doc_id)
    finally:
        mailbox.close()


def _submitted(body: bytes) -> wire.Submit:
    command = wire.decode_command(body)
    assert isinstance(command, wire.Submit)
    return command


async def _inbox(args: argparse.Namespace, settings: UnitSettings) -> int:
    """What is new since the last run (--all: everything). A read receipt (§37) goes only for
    a document whose file is in the folder this command saves to: never for one another
    program (a hot folder on the same unit) filed, which the clerk may not have seen."""

    async def inbox(client: UnitClient) -> int:
        await client.drain()
        mailbox = client.mailbox
        listed = (
            mailbox.deliveries()
            if args.all
            else mailbox.new_deliveries(unsaved_too=args.save is not None)
        )
        if not listed:
            print(_("no new documents (--all lists every one delivered)"))
        not_saved = 0
        now = datetime.now(UTC).isoformat()
        for stored in listed:
            envelope = stored.deliver.envelope
            line = _(
                "{doc_no} 《{title}》 from {sender} ({role}, may print {copies}), id {id}"
            ).format(
                doc_no=shown(envelope.doc_no),
                title=shown(envelope.title),
                sender=shown(envelope.sender),
                role=_("main") if stored.deliver.role == "main" else _("copy"),
                copies=stored.deliver.print_quota,
                id=shown(envelope.id),
            )
            mailbox.mark_shown(envelope.id, now)
            if stored.seal_error:
                print(
                    _("REFUSED {line}\n  seal does not verify: {error}").format(
                        line=line, error=stored.seal_error
                    )
                )
                continue
            if stored.withdrawn_at:
                print(
                    _("WITHDRAWN {line}\n  withdrawn by the sender at {at}").format(
                        line=line, at=stored.withdrawn_at
                    )
                )
                continue
            if stored.paper_at:
                print(
                    _("ON PAPER {line}\n  exchanged on paper since {at} (§47)").format(
                        line=line, at=stored.paper_at
                    )
                )
                continue
            saved = stored.saved_path
            if args.save is not None and saved is None:
                try:
                    args.save.mkdir(parents=True, exist_ok=True)
                    name = readable_name(envelope, partial(_taken, args.save))
                    saved = str(save_delivery(args.save, stored.deliver, name=name))
                except (OSError, UnsafeFileName) as exc:
                    # Set aside, unreceipted (§37), for the next run: the others still go in.
                    print(
                        _("NOT SAVED {line}: {error}; the others continue").format(
                            line=line, error=shown(str(exc), None)
                        )
                    )
                    not_saved += 1
                    continue
                mailbox.mark_saved(envelope.id, saved)
                line += "\n  " + _("seal verified; saved to {path}").format(path=saved)
            if args.save is not None and saved is not None and not stored.receipt_sent:
                if _saved_in(saved, args.save):
                    await client.send(wire.Receipt(v=wire.VERSION, doc_id=envelope.id, kind="read"))
                    mailbox.mark_receipt_sent(envelope.id)
                    line += "\n  " + _("read receipt sent (§37)")
                else:
                    # A hot folder on the same unit filed it: its receipt goes when the clerk
                    # takes it in there.
                    line += "\n  " + _(
                        "filed by another program at {path}; no receipt from here"
                    ).format(path=saved)
            print(line)
        return 1 if not_saved else 0

    return await with_client(settings, inbox)


def _taken(directory: Path, name: str) -> bool:
    """Anything already there, even a dangling link: a clerk's folder is never overwritten."""
    return (directory / name).exists() or (directory / name).is_symlink()


def _saved_in(path: str, directory: Path) -> bool:
    """Whether the document's file is there, in the folder this clerk named."""
    saved = Path(path)
    return saved.is_file() and saved.parent.resolve() == directory.resolve()


async def _status(args: argparse.Namespace, settings: UnitSettings) -> int:
    async def status(client: UnitClient) -> int:
        answer = await client.request(
            wire.StatusQuery(v=wire.VERSION, doc_id=args.doc_id), args.timeout
        )
        if not isinstance(answer, wire.DocumentStatus):
            return print_answer(answer)
        print(f"{answer.doc_no} 《{answer.title}》 {answer.doc_id}")
        print(
            _("sent at {at}, exchange date {date}").format(
                at=answer.sent_at, date=answer.sent_exchange_date
            )
        )
        if answer.sent_by is not None:
            print(_("sent by {person}").format(person=person_shown(answer.sent_by)))
        if answer.paper_attachments:
            print(
                _("paper attachments (§28): {items}").format(
                    items="; ".join(answer.paper_attachments)
                )
            )
        rows: list[tuple[str, ...]] = [
            (
                _("recipient"),
                _("role"),
                _("state"),
                _("printed"),
                _("attempt"),
                _("received at"),
                _("exchange date"),
                _("received by"),
            )
        ]
        rows += [
            (
                r.recipient,
                _("main") if r.role == "main" else _("copy"),
                state_word(r.state),
                f"{r.printed}/{r.print_quota}",
                str(r.attempt),
                r.received_at or "-",
                r.received_exchange_date or "-",
                person_shown(r.received_by) if r.received_by else "-",
            )
            for r in answer.recipients
        ]
        _print_table(rows)
        for r in answer.recipients:
            if r.sent_arrangement:
                print(
                    _("{recipient}: sent under the out-of-hours arrangement {id} (§30)").format(
                        recipient=r.recipient, id=r.sent_arrangement
                    )
                )
            if r.received_arrangement:
                print(
                    _("{recipient}: received under the out-of-hours arrangement {id} (§33)").format(
                        recipient=r.recipient, id=r.received_arrangement
                    )
                )
            for line in _acts(r):
                print(f"{r.recipient}: {line}")
        return 0

    return await with_client(settings, status)


def _acts(recipient: wire.RecipientState) -> list[str]:
    """Who printed which copies, returned or withdrew the document (§14), for `status`."""
    lines = [
        _("copies {first}–{last} printed at {at} by {person}").format(
            first=printed.first_copy,
            last=printed.last_copy,
            at=printed.at,
            person=person_shown(printed.person),
        )
        if printed.person
        # A unit with no register of persons prints as a whole.
        else _("copies {first}–{last} printed at {at}").format(
            first=printed.first_copy, last=printed.last_copy, at=printed.at
        )
        for printed in recipient.prints
    ]
    if recipient.returned_by is not None:
        lines.append(_("returned by {person}").format(person=person_shown(recipient.returned_by)))
    if recipient.withdrawn_by is not None:
        lines.append(_("withdrawn by {person}").format(person=person_shown(recipient.withdrawn_by)))
    return lines


async def _events(args: argparse.Namespace, settings: UnitSettings) -> int:
    async def events(client: UnitClient) -> int:
        await client.drain()
        for status in client.mailbox.statuses(args.doc_id):
            if status.state.startswith("arrangement_"):
                print(unit_arrange.arrangement_line(status))
                continue
            who = f" {status.recipient}" if status.recipient else ""
            date = (
                _(" (exchange date {date})").format(date=status.exchange_date)
                if status.exchange_date
                else ""
            )
            reason = f" {reason_shown(status.reason, status.message)}" if status.reason else ""
            under = (
                _(" (out-of-hours arrangement {ids})").format(ids=", ".join(status.arrangements))
                if status.arrangements
                else ""
            )
            by = (
                " " + _("by {person}").format(person=person_shown(status.person))
                if status.person
                else ""
            )
            state = state_word(status.state)
            print(f"{status.at}  {status.doc_id}  {state}{who}{by}{date}{under}{reason}")
        if args.doc_id is None:
            for notice in client.mailbox.notices():
                print(
                    _("{at}  notice {kind} (fault {fault}): {text}").format(
                        at=notice.at, kind=notice.kind, fault=notice.fault_id, text=notice.text
                    )
                )
        return 0

    return await with_client(settings, events)


async def _units(args: argparse.Namespace, settings: UnitSettings) -> int:
    """Asked of the router: its config is the one list that stays true."""

    async def units(client: UnitClient) -> int:
        answer = await client.request(wire.UnitsQuery(v=wire.VERSION), args.timeout)
        if not isinstance(answer, wire.UnitList):
            return print_answer(answer)
        rows = [(_("unit"), _("name"), _("state"))]
        rows += [(unit.id, unit.name, state_word(unit.status)) for unit in answer.units]
        _print_table(rows)
        return 0

    return await with_client(settings, units)


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    for line in table_lines(rows):
        print(line)


def _unit_list(value: str) -> list[str]:
    units = [part.strip() for part in value.split(",") if part.strip()]
    if not units:
        raise argparse.ArgumentTypeError(_("name at least one unit"))
    return units


def _print_quota(args: argparse.Namespace) -> dict[str, int]:
    """Copies for every recipient (§31), from --copies-all or --copies naming each one."""
    recipients = [*args.to, *args.cc]
    if args.copies_all is not None:
        return dict.fromkeys(recipients, args.copies_all)
    missing = [unit for unit in recipients if unit not in args.copies]
    if missing:
        raise CommandError(
            _(
                "say how many copies {units} may print (§31):"
                " --copies UNIT=N for each recipient, or --copies-all N"
            ).format(units=", ".join(missing))
        )
    return dict(args.copies)


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(
            _("{value!r} is not a number of copies").format(value=value)
        )
    return int(value)


def _copies(value: str) -> dict[str, int]:
    quota = {}
    for part in value.split(","):
        unit, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise argparse.ArgumentTypeError(_("{value!r} is not UNIT=COPIES").format(value=part))
        quota[unit.strip()] = int(count)
    return quota
