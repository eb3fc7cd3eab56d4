"""`docex unit arrange …`: agree an out-of-hours send or receipt with another unit (§30, §33).

One unit proposes through the router, the other accepts; only then does a document sent or
received after 15:00 that day count for that day."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from docex import wire
from docex.cli.unit_support import print_answer, sync, with_client
from docex.i18n import _
from docex.unit.settings import UnitSettings

if TYPE_CHECKING:
    from docex.unit.client import UnitClient

V = wire.VERSION


def add_commands(commands: argparse._SubParsersAction) -> None:
    arrange = commands.add_parser(
        "arrange", help=_("agree an out-of-hours send or receipt with another unit (§30, §33)")
    )
    steps = arrange.add_subparsers(dest="arrange_command", required=True, metavar="STEP")

    send = steps.add_parser(
        "send", help=_("as recipient, ask a sender to send that day's document late (§30)")
    )
    send.add_argument("--from", dest="counterpart", required=True, help=_("the sending unit"))
    _window(send)
    send.set_defaults(func=sync(_propose), kind="send")

    receive = steps.add_parser(
        "receive", help=_("as sender, ask a recipient to receive that day's document late (§33)")
    )
    receive.add_argument("--to", dest="counterpart", required=True, help=_("the receiving unit"))
    _window(receive)
    receive.set_defaults(func=sync(_propose), kind="receive")

    for step, accept, text in (
        ("accept", True, _("accept an arrangement another unit proposed")),
        ("decline", False, _("decline an arrangement another unit proposed")),
    ):
        answer = steps.add_parser(step, help=text)
        answer.add_argument("arrangement", help=_("its id, as `docex unit arrange list` shows"))
        answer.add_argument("--timeout", type=float, default=30.0)
        answer.set_defaults(func=sync(_answer), accept=accept)

    listing = steps.add_parser("list", help=_("arrangements proposed by or to this unit"))
    listing.set_defaults(func=sync(_list))


def _window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--day", required=True, help=_("the workday, YYYY-MM-DD"))
    parser.add_argument(
        "--until", required=True, help=_("until when, HH:MM in the exchange's time")
    )
    parser.add_argument(
        "--doc-no", default="", help=_("only the document with this 文号 (default: any)")
    )
    parser.add_argument("--timeout", type=float, default=30.0)


async def _propose(args: argparse.Namespace, settings: UnitSettings) -> int:
    command = wire.Arrange(
        v=V,
        kind=args.kind,
        counterpart=args.counterpart,
        day=args.day,
        until=args.until,
        doc_no=args.doc_no,
    )

    async def propose(client: UnitClient) -> int:
        return _print_arrangement(await client.request(command, args.timeout))

    return await with_client(settings, propose)


async def _answer(args: argparse.Namespace, settings: UnitSettings) -> int:
    command = wire.ArrangeAnswer(v=V, arrangement=args.arrangement, accept=args.accept)

    async def answer(client: UnitClient) -> int:
        return _print_arrangement(await client.request(command, args.timeout))

    return await with_client(settings, answer)


async def _list(args: argparse.Namespace, settings: UnitSettings) -> int:
    """From the unit's mailbox: every step of every arrangement was told to both units."""

    async def listing(client: UnitClient) -> int:
        await client.drain()
        latest: dict[str, wire.Status] = {}
        for status in client.mailbox.statuses():
            if status.state.startswith("arrangement_") and status.arrangements:
                latest[status.arrangements[0]] = status
        if not latest:
            print(_("no arrangements"))
        for status in latest.values():
            print(arrangement_line(status))
        return 0

    return await with_client(settings, listing)


def _print_arrangement(answer: wire.Answer) -> int:
    if isinstance(answer, wire.Status) and answer.state.startswith("arrangement_"):
        print(arrangement_line(answer))
        return 0
    return print_answer(answer)


def arrangement_line(status: wire.Status) -> str:
    """One arrangement's state, id and what it says, in the reader's language."""
    from docex.cli.rejections import WORDS, detail

    known = WORDS.get(status.state)
    return _("{at}  {state} {id}: {what}").format(
        at=status.at,
        state=_(known) if known else status.state,
        id=", ".join(status.arrangements or []),
        what=detail(status.message),
    )
