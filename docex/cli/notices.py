"""`docex notices …`: the General Office's view of the paper notices of §47, to print and hand
over. Reads the ledger read-only, so it runs beside the router without getting in its way."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docex.cli.options import add_config_option
from docex.config import Config
from docex.error_text import file_problem
from docex.i18n import _
from docex.ledger.port import LedgerReads
from docex.ledger.reader import with_ledger
from docex.ledger.records import NoticeRecord


def add_notice_commands(subparsers: argparse._SubParsersAction) -> None:
    notices = subparsers.add_parser(
        "notices", help=_("paper notices written when a fault outlasted the fallback time (§47)")
    )
    commands = notices.add_subparsers(dest="notices_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help=_("every paper notice, oldest first"))
    add_config_option(listing, _("the router's config"))
    listing.set_defaults(func=_list)
    show = commands.add_parser("show", help=_("one notice: its file, unit, fault and documents"))
    show.add_argument("id", type=int)
    add_config_option(show, _("the router's config"))
    show.set_defaults(func=_show)
    pdf = commands.add_parser(
        "pdf", help=_("write one notice's PDF from the ledger (on any host, to print it)")
    )
    pdf.add_argument("id", type=int)
    pdf.add_argument("--out", type=Path, required=True, help=_("the file to write"))
    add_config_option(pdf, _("the router's config"))
    pdf.set_defaults(func=_pdf)


def _list(args: argparse.Namespace) -> int:
    def listing(config: Config, ledger: LedgerReads) -> int:
        notices = ledger.notices()
        if not notices:
            print(_("no paper notices"))
            return 0
        for notice in notices:
            fault = ledger.fault(notice.fault_id)
            assert fault is not None
            count = len(ledger.notice_documents(notice.id))
            print(
                f"{notice.id}  {notice.created_at}  {_unit(config, notice.unit)}"
                f"  fault {fault.id} {fault.kind} ({fault.scope})  {count} documents"
                f"  {notice.path}"
            )
        return 0

    return with_ledger(args.config, listing)


def _show(args: argparse.Namespace) -> int:
    def show(config: Config, ledger: LedgerReads) -> int:
        notice = ledger.notice(args.id)
        if notice is None:
            print(_("error: no paper notice {id}").format(id=args.id), file=sys.stderr)
            return 1
        _print_notice(config, ledger, notice)
        return 0

    return with_ledger(args.config, show)


def _pdf(args: argparse.Namespace) -> int:
    def write(config: Config, ledger: LedgerReads) -> int:
        pdf = ledger.notice_pdf(args.id)
        if pdf is None:
            print(
                f"error: no PDF of paper notice {args.id} in the ledger"
                " (no such notice, or one written before notices kept their PDF:"
                " see `docex notices show` for its file)",
                file=sys.stderr,
            )
            return 1
        try:
            args.out.write_bytes(pdf)
        except OSError as exc:
            print(
                _("error: {problem}").format(problem=file_problem(exc, args.out)), file=sys.stderr
            )
            return 2
        print(
            _("paper notice {id}: {size} bytes written to {path}").format(
                id=args.id, size=len(pdf), path=args.out
            )
        )
        return 0

    return with_ledger(args.config, write)


def _print_notice(config: Config, ledger: LedgerReads, notice: NoticeRecord) -> None:
    fault = ledger.fault(notice.fault_id)
    assert fault is not None
    scope = _("the exchange itself") if fault.scope == "*" else _unit(config, fault.scope)
    print(_("paper notice {id}: {path}").format(id=notice.id, path=notice.path))
    print(_("unit:    {unit}").format(unit=_unit(config, notice.unit)))
    print(_("fault:   {id}, {kind}, {scope}").format(id=fault.id, kind=fault.kind, scope=scope))
    print(
        _("         from {start} to {end}").format(
            start=fault.started_at, end=fault.ended_at or _("now (still open)")
        )
    )
    print(_("written: {at}").format(at=notice.created_at))
    doc_ids = ledger.notice_documents(notice.id)
    print(_("documents to exchange on paper: {count}").format(count=len(doc_ids)))
    for number, doc_id in enumerate(doc_ids, start=1):
        document = ledger.document(doc_id)
        delivery = ledger.delivery(doc_id, notice.unit)
        assert document is not None and delivery is not None
        role = "主送" if delivery.role == "main" else "抄送"
        print(
            _(
                "  {number}. {doc_no} 《{title}》 from {sender}, {role}, may print {copies}"
                " — {id} ({state})"
            ).format(
                number=number,
                doc_no=document.doc_no,
                title=document.title,
                sender=_unit(config, document.sender),
                role=role,
                copies=delivery.print_quota,
                id=doc_id,
                state=delivery.state,
            )
        )


def _unit(config: Config, unit_id: str) -> str:
    unit = config.unit(unit_id)
    return f"{unit.name} ({unit_id})" if unit else unit_id
