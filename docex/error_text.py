"""What the operating system and the libraries say when something fails, told to a person in
their language: one line naming the file or host and saying what to do.

An OSError's text, tomllib's parse error, a broker's or PostgreSQL's refusal arrive in English
from below; `str(exc)` would put that English in front of a Chinese clerk. These functions read
what the exception carries (errno, line and column, the server's error) and write the sentence
again from the catalog. Anything they do not recognise keeps the library's own words, after a
translated lead, so nothing is lost."""

from __future__ import annotations

import errno
import os
import re
import socket
import tomllib
from pathlib import Path

from docex.i18n import N_, _

# What a file operation's errno means to the person, and what to do about it.
_FILE = {
    errno.ENOENT: N_("{path}: no such file or folder; check the name"),
    errno.EACCES: N_("{path}: not allowed; check its owner and permissions"),
    errno.EPERM: N_("{path}: not allowed; check its owner and permissions"),
    errno.EISDIR: N_("{path}: is a folder, not a file; name the file"),
    errno.ENOTDIR: N_("{path}: a part of the path is not a folder; check the path"),
    errno.ENOSPC: N_("{path}: the disk is full; free some space and try again"),
    errno.EDQUOT: N_("{path}: the disk quota is used up; free some space and try again"),
    errno.EROFS: N_("{path}: the file system is read-only; choose another place"),
    errno.EEXIST: N_("{path}: already exists; choose another name"),
    errno.ENAMETOOLONG: N_("{path}: the name is too long; choose a shorter one"),
}

# What a connection's errno means, for `{what} at {host}:{port}`.
_CONNECTION = {
    errno.ECONNREFUSED: N_(
        "{what} at {address} refused the connection: is it running, and is the port right?"
    ),
    errno.EHOSTUNREACH: N_("{what} at {address} cannot be reached: check the host and the network"),
    errno.ENETUNREACH: N_("{what} at {address} cannot be reached: check the host and the network"),
    errno.ETIMEDOUT: N_("{what} at {address} did not answer in time: is it running and reachable?"),
    errno.ECONNRESET: N_(
        "{what} at {address} dropped the connection: try again; if it goes on, look at its log"
    ),
}

# tomllib's sentences, before " (at line N, column M)".
_TOML = {
    "Invalid value": N_('a value is not valid (quote text, e.g. "...")'),
    "Expected '=' after a key in a key/value pair": N_("expected '=' after a key"),
    "Expected ']' at the end of a table declaration": N_("a [table] line is not closed with ']'"),
    "Expected ']]' at the end of an array declaration": N_(
        "an [[array]] line is not closed with ']]'"
    ),
    "Cannot overwrite a value": N_("a key is given twice"),
    "Cannot declare": N_("a table is declared twice"),
    "Unclosed array": N_("a list is not closed with ']'"),
    "Unclosed inline table": N_("an inline table is not closed"),
    "Unterminated string": N_("a string is not closed"),
    "Illegal character": N_("a character is not allowed here (a string not closed?)"),
    "Invalid statement": N_("a line is neither key = value nor [table]"),
    "Invalid initial character for a key part": N_("a key starts with a character not allowed"),
    "Expected newline or end of document after a statement": N_(
        "something follows a value on its line"
    ),
}
_TOML_AT = re.compile(
    r"^(?P<text>.*?) \((?:at line (?P<line>\d+), column (?P<column>\d+)|at end of document)\)$"
)

# PostgreSQL's (libpq's) refusals, recognised in its English message.
_POSTGRES = (
    (
        "password authentication failed",
        N_("PostgreSQL at {address} refused the login: check the user and password in {setting}"),
    ),
    (
        "does not exist",
        N_(
            "PostgreSQL at {address} has no such database or role: check {setting},"
            " or create it (createdb)"
        ),
    ),
    (
        "Connection refused",
        N_(
            "PostgreSQL at {address} refused the connection: is it running, and is {setting} right?"
        ),
    ),
    ("timeout expired", N_("PostgreSQL at {address} did not answer in time: is it reachable?")),
    (
        "could not translate host name",
        N_("cannot find the host of {setting} ({address}): check the host name"),
    ),
)


def os_reason(text: str) -> str:
    """An OS error's own words (`No such file or directory`), as they reached a sentence
    through a library, in the reader's language."""
    code = _STRERROR.get(text)
    return _(_REASONS[code]) if code in _REASONS else text


_REASONS = {
    errno.ENOENT: N_("no such file or folder"),
    errno.EACCES: N_("not allowed"),
    errno.EPERM: N_("not allowed"),
    errno.EISDIR: N_("is a folder"),
    errno.ENOTDIR: N_("not a folder"),
    errno.ENOSPC: N_("the disk is full"),
    errno.EROFS: N_("read-only file system"),
    errno.EEXIST: N_("already exists"),
}
_STRERROR = {os.strerror(code): code for code in _REASONS}


def file_problem(exc: OSError, path: Path | str | None = None) -> str:
    """`{path}: what went wrong; what to do`, from the errno."""
    where = str(path if path is not None else exc.filename or "?")
    known = _FILE.get(exc.errno or 0)
    if known:
        return _(known).format(path=where)
    return _("{path}: cannot use it ({reason})").format(path=where, reason=exc.strerror or exc)


def toml_problem(path: Path | str, exc: tomllib.TOMLDecodeError) -> str:
    """`config file X line N column M: what is wrong`, from tomllib's message."""
    found = _TOML_AT.match(str(exc))
    text = found["text"] if found else str(exc)
    known = next((_TOML[key] for key in _TOML if text.startswith(key)), None)
    what = _(known) if known else text
    if found and found["line"]:
        return _("{path} line {line}, column {column}: not valid TOML: {problem}").format(
            path=path, line=found["line"], column=found["column"], problem=what
        )
    if found:
        return _("{path}: not valid TOML: {problem}, at the end of the file").format(
            path=path, problem=what
        )
    return _("{path}: not valid TOML: {problem}").format(path=path, problem=what)


def connection_problem(exc: BaseException, what: str, address: str) -> str:
    """A connection to `what` at `address` (HOST:PORT) that failed below the protocol: refused,
    unreachable, no such host, too slow."""
    if unknown_host(exc):
        return _("cannot find the host of {what} at {address}: check the host name").format(
            address=address, what=what
        )
    code = _errno(exc)
    if isinstance(exc, TimeoutError) and code is None:
        code = errno.ETIMEDOUT
    known = _CONNECTION.get(code or 0)
    if known:
        return _(known).format(what=what, address=address)
    return _(
        "cannot connect to {what} at {address} ({reason}): is it running and reachable?"
    ).format(what=what, address=address, reason=connection_reason(exc))


def unknown_host(exc: BaseException) -> bool:
    """A host name DNS does not know, however deep the library wrapped getaddrinfo's error
    (aiormq passes on only its negative code)."""
    code = _errno(exc)
    return isinstance(exc, socket.gaierror) or (code is not None and code < 0)


def connection_reason(exc: BaseException) -> str:
    """A few words for why a connection failed, to go inside a longer sentence."""
    if unknown_host(exc):
        return _("no such host")
    code = _errno(exc)
    if code is None and isinstance(exc, TimeoutError):
        code = errno.ETIMEDOUT
    words = {
        errno.ECONNREFUSED: _("connection refused"),
        errno.EHOSTUNREACH: _("host unreachable"),
        errno.ENETUNREACH: _("network unreachable"),
        errno.ETIMEDOUT: _("timed out"),
        errno.ECONNRESET: _("connection reset"),
    }
    if code in words:
        return words[code]
    return errno.errorcode.get(code, str(code)) if code else _("no connection")


def login_refused(what: str, address: str, user: str | None, where: str) -> str:
    return _(
        "{what} at {address} refused user {user!r}: check the user and password in {where}"
    ).format(what=what, address=address, user=user, where=where)


def postgres_problem(exc: BaseException, address: str, setting: str = "router.ledger") -> str:
    """psycopg's OperationalError at connect, told by what libpq said."""
    text = str(exc)
    for marker, sentence in _POSTGRES:
        if marker in text:
            return _(sentence).format(address=address, setting=setting)
    if _errno(exc) in _CONNECTION:
        return connection_problem(exc, "PostgreSQL", address)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return _("cannot use PostgreSQL at {address} ({reason}): check {setting}").format(
        address=address, reason=first, setting=setting
    )


def _errno(exc: BaseException) -> int | None:
    """The errno an exception carries itself, in its args, or in what caused it."""
    seen: BaseException | None = exc
    for _depth in range(8):  # a chain of causes is short; a cycle must not hang an error
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        if seen.args and isinstance(seen.args[0], int):
            return seen.args[0]
        found = re.search(r"\[Errno (\d+)\]", str(seen))
        if found:
            return int(found[1])
        seen = seen.__cause__ or seen.__context__
    return None
