"""`docex unit … info …`: information exchange (§39–§45), one subcommand per kind."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from docex import wire
from docex.cli.unit_support import print_answer, sync, with_client
from docex.i18n import N_, _
from docex.unit.settings import UnitSettings

if TYPE_CHECKING:
    from docex.unit.client import UnitClient

V = wire.VERSION


def add_commands(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help=_("exchange information: updates, requests, reports"))
    kinds = info.add_subparsers(dest="info_command", required=True, metavar="KIND")

    request = _item(kinds, "request", _("ask units to handle something (请求办理事项, §42)"))
    request.add_argument("--to", type=_units, required=True, help=_("the handling units: A,B"))
    request.add_argument("--deadline", default="", help=_("ISO 8601 with offset, optional"))
    request.set_defaults(func=_send(lambda a: _info(a, "request", to=a.to, deadline=a.deadline)))

    reply = kinds.add_parser("reply", help=_("reply to a request, or explain a delay (§42)"))
    reply.add_argument("info_id")
    reply.add_argument("--content", required=True)
    reply.add_argument("--delay", action="store_true", help=_("explain why it will be late"))
    reply.set_defaults(
        func=_send(lambda a: wire.Reply(v=V, info_id=a.info_id, content=a.content, delay=a.delay))
    )

    update = _item(kinds, "update", _("file a work update (工作动态, §41)"))
    update.add_argument("--period", required=True, help=_("2026 (annual) or 2026-03 (monthly)"))
    update.add_argument("--part", choices=["summary", "plan"], required=True)
    update.set_defaults(func=_send(lambda a: _info(a, "update", period=a.period, part=a.part)))

    submit = _item(kinds, "submit", _("government information to the General Office (§44)"))
    submit.add_argument("--with", dest="co_units", type=_units, default=[], help=_("joint: A,B"))
    submit.add_argument("--authors", type=_units, default=[], help=_("authors: 张三,李四"))
    submit.add_argument("--revision", action="store_true", help=_("a revision (修改稿)"))
    submit.add_argument("--solicited", action="store_true", help=_("solicited (约稿)"))
    submit.set_defaults(
        func=_send(
            lambda a: _info(
                a,
                "gov_info",
                co_units=a.co_units,
                authors=a.authors,
                revision=a.revision,
                solicited=a.solicited,
            )
        )
    )

    report = _item(kinds, "report", _("a special report to superiors (专题报告, §43)"))
    report.add_argument("--to", type=_units, required=True)
    report.set_defaults(func=_send(lambda a: _info(a, "report", to=a.to)))

    publish = _item(kinds, "publish", _("publish a periodical issue (刊物, §45)"))
    publish.add_argument("--issue", required=True, help=_("e.g. 2026年第11期"))
    publish.add_argument("--readers", type=_units, default=[], help=_("reader units: A,B"))
    publish.add_argument("--group", default="", help=_("a reader group from the router config"))
    publish.set_defaults(
        func=_send(
            lambda a: _info(a, "periodical", issue=a.issue, readers=a.readers, reader_group=a.group)
        )
    )

    adopt = kinds.add_parser("adopt", help=_("the General Office adopts (采用) a piece (§44)"))
    adopt.add_argument("info_id")
    adopt.set_defaults(func=_send(lambda a: wire.Adopt(v=V, info_id=a.info_id)))

    inbox = kinds.add_parser("inbox", help=_("information received, and reminders"))
    inbox.set_defaults(func=sync(_inbox))


def _item(kinds: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    parser = kinds.add_parser(name, help=help)
    parser.add_argument("--title", required=True)
    parser.add_argument("--content", default="", help=_("the text itself"))
    parser.add_argument("--content-file", type=Path, help=_("read the text from this file"))
    parser.add_argument("--timeout", type=float, default=30.0)
    # The §4 flags, as on a document: secret and above never leave the unit (refused here);
    # urgent and private items are marked as they are, and the exchange refuses them.
    parser.add_argument(
        "--classification",
        default="public",
        choices=["public", "internal"],
        help=_("secret and above are not exchanged, and not sent (§4)"),
    )
    parser.add_argument(
        "--urgency",
        default="normal",
        choices=list(get_args(wire.Urgency)),
        help=_("urgent items are not exchanged (§4)"),
    )
    parser.add_argument("--private", action="store_true", help=_("private: not exchanged (§4)"))
    return parser


def _info(args: argparse.Namespace, kind: str, **fields: Any) -> wire.Info:
    content = args.content_file.read_text() if args.content_file else args.content
    return wire.Info(
        v=V,
        kind=kind,
        title=args.title,
        content=content,
        classification=args.classification,
        urgency=args.urgency,
        private=args.private,
        **fields,
    )


def _send(
    build: Callable[[argparse.Namespace], wire.Command],
) -> Callable[[argparse.Namespace], int]:
    async def send(args: argparse.Namespace, settings: UnitSettings) -> int:
        async def run(client: UnitClient) -> int:
            return print_answer(await client.request(build(args), getattr(args, "timeout", 30.0)))

        return await with_client(settings, run)

    return sync(send)


async def _inbox(args: argparse.Namespace, settings: UnitSettings) -> int:
    async def inbox(client: UnitClient) -> int:
        await client.drain()
        for entry in client.mailbox.information():
            if isinstance(entry, wire.InfoNotice):
                print(
                    _("{at}  {kind} {subject} (due {due}): {text}").format(
                        at=entry.at,
                        kind=_(_NOTICE_KINDS.get(entry.kind, entry.kind)),
                        subject=entry.subject,
                        due=entry.due,
                        text=entry.text,
                    )
                )
                continue
            print(
                _("{at}  {kind} {id} from {sender}: 《{title}》").format(
                    at=entry.at,
                    kind=_(_KINDS.get(entry.kind, entry.kind)),
                    id=entry.id,
                    sender=entry.sender,
                    title=entry.title,
                )
            )
            reply_to = entry.in_reply_to
            if reply_to and entry.delay:
                reply_to = _("{id} (delay explained)").format(id=reply_to)
            part = _(_PARTS[entry.part]) if entry.part in _PARTS else entry.part
            details = {
                _("deadline"): entry.deadline,
                _("period"): f"{entry.period} {part}".strip(),
                _("jointly with"): ", ".join(entry.co_units),
                _("authors"): ", ".join(entry.authors),
                _("issue"): entry.issue,
                _("in reply to"): reply_to,
            }
            for label, value in details.items():
                if value:
                    print(_("  {label}: {value}").format(label=label, value=value))
            if entry.content:
                print(f"  {entry.content}")
        return 0

    return await with_client(settings, inbox)


# The kinds of information (§39) and of the reminders about it (§41, §42), as a clerk reads
# them in `inbox`.
_KINDS = {
    "update": N_("work update"),
    "request": N_("request"),
    "reply": N_("reply"),
    "report": N_("special report"),
    "gov_info": N_("government information"),
    "periodical": N_("periodical"),
}
_NOTICE_KINDS = {"reminder": N_("REMINDER"), "late": N_("LATE"), "overdue": N_("OVERDUE")}
_PARTS = {"summary": N_("summary"), "plan": N_("plan")}


def _units(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
