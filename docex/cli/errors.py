"""What went wrong, in one line a clerk or an operator can act on: which file, host or unit,
and what to do. Tracebacks and Python reprs are for `--debug` only.

Imported when a command fails, not when the parser is built."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import aiormq.exceptions
import yarl

from docex.unit.settings import UnitSettings


def describe_unit_error(exc: BaseException, settings_file: Path, settings: UnitSettings) -> str:
    """A failure of a unit's command, told against the unit's settings file."""
    url = yarl.URL(settings.amqp_url)
    broker = f"RabbitMQ at {url.host}:{url.port}"
    if isinstance(exc, aiormq.exceptions.ProbableAuthenticationError) or _refused_login(exc):
        return (
            f"{broker} refused user {url.user!r}: check the password in amqp_url in {settings_file}"
        )
    if isinstance(exc, aiormq.exceptions.ChannelNotFoundEntity):
        return (
            f"unit {settings.unit!r} has no queue on the exchange ({broker}, prefix"
            f" {settings.prefix!r}): is `unit` in {settings_file} registered in the router's"
            " config, and were the units provisioned (`docex units provision`)?"
        )
    if isinstance(exc, aiormq.exceptions.ChannelAccessRefused):
        return (
            f"{broker} does not let user {url.user!r} act as unit {settings.unit!r}: check"
            f" `unit` and amqp_url in {settings_file}, or provision the unit again"
        )
    if isinstance(exc, socket.gaierror):
        return f"cannot find the host {url.host!r}: check amqp_url in {settings_file}"
    if isinstance(exc, OSError) and exc.filename:
        return describe_file_error(exc)
    if isinstance(exc, ConnectionError | OSError | aiormq.exceptions.AMQPConnectionError):
        reason = _reason(exc)
        return (
            f"cannot reach {broker} ({reason}): is it running, and is amqp_url in"
            f" {settings_file} right?"
        )
    if isinstance(exc, TimeoutError):
        return f"{broker} did not answer in time: is it running and reachable?"
    return describe_unexpected(exc)


def describe_file_error(exc: OSError) -> str:
    what = {
        errno.ENOENT: "no such file",
        errno.EACCES: "not allowed to read it",
        errno.EISDIR: "it is a folder, not a file",
    }.get(exc.errno or 0, exc.strerror or "cannot use it")
    return f"{exc.filename}: {what}"


def describe_exception(exc: BaseException) -> str:
    """Any command's failure that its own handling did not foresee."""
    if isinstance(exc, OSError) and exc.filename:
        return describe_file_error(exc)
    return describe_unexpected(exc)


def describe_unexpected(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else "no detail"
    return f"unexpected failure ({type(exc).__name__}: {text}); run again with --debug for details"


def _refused_login(exc: BaseException) -> bool:
    return "ACCESS_REFUSED" in str(exc) or "authentication" in str(exc).lower()


def _reason(exc: BaseException) -> str:
    """`connection refused` from an OSError, or from the errno AMQPConnectionError carries."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return os.strerror(code).lower() if code else "no connection"
