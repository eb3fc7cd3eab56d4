"""`docex unit … info …`: information exchange (§39–§45), one subcommand per kind."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from docex import wire
from docex.cli.unit_support import print_answer, sync, with_client
from docex.i18n import _
from docex.unit.settings import UnitSettings

if TYPE_CHECKING:
    from docex.unit.client import UnitClient

V = wire.VERSION


def add_commands(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help=_("exchange information: updates, requests, reports"))
    kinds = info.add_subparsers(dest="info_command", required=True, metavar="KIND")

    request = _item(kinds, "request", "ask units to handle something (请求办理事项, §42)")
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

    update = _item(kinds, "update", "file a work update (工作动态, §41)")
    update.add_argument("--period", required=True, help=_("2026 (annual) or 2026-03 (monthly)"))
    update.add_argument("--part", choices=["summary", "plan"], required=True)
    update.set_defaults(func=_send(lambda a: _info(a, "update", period=a.period, part=a.part)))

    submit = _item(kinds, "submit", "government information to the General Office (§44)")
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

    report = _item(kinds, "report", "a special report to superiors (专题报告, §43)")
    report.add_argument("--to", type=_units, required=True)
    report.set_defaults(func=_send(lambda a: _info(a, "report", to=a.to)))

    publish = _item(kinds, "publish", "publish a periodical issue (刊物, §45)")
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
                    f"{entry.at}  {entry.kind.upper()} {entry.subject}"
                    f" (due {entry.due}): {entry.text}"
                )
                continue
            print(f"{entry.at}  {entry.kind} {entry.id} from {entry.sender}: 《{entry.title}》")
            details = {
                "deadline": entry.deadline,
                "period": f"{entry.period} {entry.part}".strip(),
                "jointly with": ", ".join(entry.co_units),
                "authors": ", ".join(entry.authors),
                "issue": entry.issue,
                "in reply to": entry.in_reply_to + (" (delay explained)" if entry.delay else ""),
            }
            for label, value in details.items():
                if value:
                    print(f"  {label}: {value}")
            if entry.content:
                print(f"  {entry.content}")
        return 0

    return await with_client(settings, inbox)


def _units(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
