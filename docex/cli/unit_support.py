"""What every `docex unit …` command shares: settings, the client, and one-line errors.

The client and its AMQP library are imported when a command runs, not when the parser is
built."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docex import wire
from docex.error_text import file_problem
from docex.filenames import is_unprintable
from docex.i18n import N_, _
from docex.seals.carrier import PASSWORD_ENV
from docex.seals.errors import SealError
from docex.settings_file import SettingsError
from docex.unit.settings import UnitSettings, load_unit_settings

if TYPE_CHECKING:
    from docex.unit.client import UnitClient


class CommandError(Exception):
    pass


class NotSentYet(Exception):
    """A send the broker did not confirm: the sealed document is kept in the unit's mailbox,
    and sending the same again publishes it, under its first id."""

    def __init__(self, cause: Exception, doc_id: str) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.doc_id = doc_id


Action = Callable[[argparse.Namespace, UnitSettings], Coroutine[Any, Any, int]]


def sync(action: Action) -> Callable[[argparse.Namespace], int]:
    return lambda args: _run(action, args)


def _run(action: Action, args: argparse.Namespace) -> int:
    from docex.unit.client import ExchangeBusy, ExchangeTimeout

    if not args.debug:
        # The AMQP libraries log each failed connection attempt as a repr; the one line
        # below says it for people.
        for library in ("aio_pika", "aiormq"):
            logging.getLogger(library).setLevel(logging.CRITICAL)
    try:
        settings = load_unit_settings(args.config)
    except SettingsError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    try:
        return asyncio.run(action(args, settings))
    except SealError as exc:
        from docex.cli.rejections import detail

        print(_("error: {problem}").format(problem=detail(exc.message)), file=sys.stderr)
        return 2
    except (CommandError, ExchangeTimeout, ExchangeBusy) as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        from docex.cli.errors import describe_unit_error

        cause = exc.cause if isinstance(exc, NotSentYet) else exc
        problem = describe_unit_error(cause, args.config, settings)
        if isinstance(exc, NotSentYet):
            problem += _("; not sent yet: the same send again sends document {id}, once").format(
                id=exc.doc_id
            )
        print(_("error: {problem}").format(problem=problem), file=sys.stderr)
        return 3


async def with_client(
    settings: UnitSettings, action: Callable[[UnitClient], Awaitable[int]]
) -> int:
    from docex.unit.client import UnitClient

    async with UnitClient(settings) as client:
        return await action(client)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CommandError(_("{path}: no such file").format(path=path)) from None
    except IsADirectoryError:
        raise CommandError(_("{path} is a folder; name a file").format(path=path)) from None
    except PermissionError:
        raise CommandError(_("{path}: not allowed to read it").format(path=path)) from None
    except OSError as exc:
        raise CommandError(file_problem(exc, path)) from None


def seal_password(file: Path | None) -> str:
    if file is not None:
        return file.read_text().rstrip("\n")
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    return getpass.getpass(_("seal carrier password: "))


def shown(text: str, limit: int | None = 120) -> str:
    """Text a sender chose, fit for a terminal: an id may carry a newline or escape sequences
    that would rewrite the screen, so unprintable characters are shown escaped, and an
    overlong id is cut short."""
    escaped = "".join(
        c.encode("unicode_escape").decode("ascii") if is_unprintable(c) else c for c in text
    )
    return escaped if limit is None or len(escaped) <= limit else f"{escaped[:limit]}…"


_REASONS = {
    "unknown_recipient": N_("a recipient is not registered on the exchange"),
    "recipient_revoked": N_("a recipient has left the exchange"),
    "sender_revoked": N_("this unit may no longer send"),
    "format_not_allowed": N_("the exchange does not take this file format"),
    "excluded_classification": N_("secret documents are not exchanged electronically (§4)"),
    "seal_untrusted": N_("the seal is not one the exchange trusts"),
    "seal_revoked": N_("the seal has been revoked"),
    "unsealed": N_("the document is not sealed"),
    "content_hash_mismatch": N_("the file is not what was sealed"),
    "too_large": N_("the document is too large"),
    "unknown_document": N_("no such document of this unit"),
    "not_a_recipient": N_("this unit is not a recipient of the document"),
    "document_withdrawn": N_("the document has been withdrawn"),
    "document_expired": N_("the document's body was deleted by retention; its record is kept"),
    "already_received": N_("the document was already received"),
    "duplicate_document": N_("a document with this id was already sent"),
    "duplicate_recipient": N_("a unit is named twice among the recipients"),
    "no_recipients": N_("no recipient named"),
    "self_send": N_("a unit cannot send to itself"),
    "reason_required": N_("a reason is required"),
    "invalid_copies": N_("the number of copies is not allowed"),
    "invalid_quota": N_("a print quota is not allowed"),
    "quota_too_large": N_("more copies than the exchange allows"),
}


def person_shown(person: wire.Person) -> str:
    """A person as a clerk reads them: id and Chinese name, the Chinese first under zh_CN."""
    if not person.chinese_name:
        return person.id
    return _("{id} ({chinese_name})").format(id=person.id, chinese_name=person.chinese_name)


def reason_shown(reason: str, message: str) -> str:
    """A refusal's reason code and the router's sentence, in the reader's language: under
    zh_CN the code is explained (docex/cli/rejections.py writes the sentence again)."""
    from docex.cli import rejections

    known = _REASONS.get(reason)
    return _("{reason}: {message}").format(
        reason=reason,
        message=rejections.detail(message),
        explanation=_(known) if known else reason,
    )


def print_answer(answer: wire.Answer) -> int:
    """One line for the router's answer; exit status 1 when it refused the command."""
    if isinstance(answer, wire.Status) and answer.state == "rejected":
        # The router's reason code, told in the reader's language where the catalog has it,
        # then its detail, written again in that language from the router's English sentence
        # (docex/cli/rejections.py).
        from docex.cli import rejections

        known = _REASONS.get(answer.reason)
        print(
            _("rejected: {reason}: {message}").format(
                reason=answer.reason,
                message=rejections.detail(answer.message),
                explanation=_(known) if known else answer.reason,
            )
        )
        return 1
    if isinstance(answer, wire.PrintDenied):
        # The router's sentence, or one made from its numbers where the catalog has one.
        print(
            _("denied: {message}").format(
                message=answer.message, requested=answer.requested, remaining=answer.remaining
            )
        )
        return 1
    if isinstance(answer, wire.WithdrawResult):
        refused = ", ".join(f"{unit} ({state})" for unit, state in answer.refused.items())
        print(
            _("withdrawn from {units} at {at}").format(
                units=", ".join(answer.withdrawn), at=answer.at
            )
        )
        if refused:
            print(_("refused for {units}: already received").format(units=refused))
        return 0
    if isinstance(answer, wire.Status):
        from docex.cli.rejections import state_word

        line = _("{state}: {id} at {at}").format(
            state=state_word(answer.state), id=answer.doc_id, at=answer.at
        )
        if answer.exchange_date:
            line += _(", exchange date {date}").format(date=answer.exchange_date)
        if answer.message:
            line += f" ({answer.message})"
        print(line)
        return 0
    raise CommandError(_("unexpected answer {kind}").format(kind=wire.type_name(answer)))
