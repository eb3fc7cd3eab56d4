"""What went wrong, in one line a clerk or an operator can act on: which file, host or unit,
and what to do. Tracebacks and Python reprs are for `--debug` only.

Imported when a command fails, not when the parser is built."""

from __future__ import annotations

import sys
from pathlib import Path

import aiormq.exceptions
import yarl

from docex.error_text import connection_reason, file_problem, unknown_host
from docex.i18n import _
from docex.unit.settings import UnitSettings


def describe_unit_error(exc: BaseException, settings_file: Path, settings: UnitSettings) -> str:
    """A failure of a unit's command, told against the unit's settings file."""
    url = yarl.URL(settings.amqp_url)
    broker = _("RabbitMQ at {host}:{port}").format(host=url.host, port=url.port)
    if isinstance(exc, aiormq.exceptions.ProbableAuthenticationError) or _refused_login(exc):
        return _("{broker} refused user {user!r}: check the password in amqp_url in {file}").format(
            broker=broker, user=url.user, file=settings_file
        )
    if isinstance(exc, aiormq.exceptions.ChannelNotFoundEntity):
        return _(
            "unit {unit!r} has no queue on the exchange ({broker}, prefix {prefix!r}): is"
            " `unit` in {file} registered in the router's config, and were the units"
            " provisioned (`docex units provision`)?"
        ).format(unit=settings.unit, broker=broker, prefix=settings.prefix, file=settings_file)
    if isinstance(exc, aiormq.exceptions.ChannelAccessRefused):
        return _(
            "{broker} does not let user {user!r} act as unit {unit!r}: check `unit` and"
            " amqp_url in {file}, or provision the unit again"
        ).format(broker=broker, user=url.user, unit=settings.unit, file=settings_file)
    if unknown_host(exc):
        return _("cannot find the host {host!r}: check amqp_url in {file}").format(
            host=url.host, file=settings_file
        )
    if isinstance(exc, OSError) and exc.filename:
        return describe_file_error(exc)
    if isinstance(exc, ConnectionError | OSError | aiormq.exceptions.AMQPConnectionError):
        reason = connection_reason(exc)
        return _(
            "cannot reach {broker} ({reason}): is it running, and is amqp_url in {file} right?"
        ).format(broker=broker, reason=reason, file=settings_file)
    if isinstance(exc, TimeoutError):
        return _("{broker} did not answer in time: is it running and reachable?").format(
            broker=broker
        )
    return describe_unexpected(exc)


def describe_file_error(exc: OSError) -> str:
    return file_problem(exc)


def describe_exception(exc: BaseException) -> str:
    """Any command's failure that its own handling did not foresee."""
    if isinstance(exc, OSError) and exc.filename:
        return describe_file_error(exc)
    return describe_unexpected(exc)


def describe_unexpected(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else "-"
    return _("unexpected failure ({kind}: {text}); run again with --debug for details").format(
        kind=type(exc).__name__, text=text
    )


def _refused_login(exc: BaseException) -> bool:
    return "ACCESS_REFUSED" in str(exc) or "authentication" in str(exc).lower()


def ledger_failed(config_file: object, exc: BaseException) -> int:
    """A ledger command's failure on the ledger its config file names: said, and exit 2."""
    problem = _("the ledger of {file}: {error}").format(file=config_file, error=exc)
    print(_("error: {problem}").format(problem=problem), file=sys.stderr)
    return 2
