"""Ids: the one alphabet every id must use, and time-ordered unique ids (UUIDv7, RFC 9562) for
documents and commands.

An id does not stay a string in a message. It becomes an AMQP property (a delivery's message id
is `<doc_id>/<recipient>/<attempt>`, and AMQP caps such a property at 255 bytes), a queue name
(`docex.unit.<unit>`), a file name (a hot folder's `inbox/<doc_id>.pdf`, a saved download) and
a ledger key. So an id is a short token of letters, digits, `.`, `_` and `-` that starts with a
letter or digit: no `/`, no `..` at the start, no NUL, nothing a shell, a path or a log line
reads twice. UUIDs, ULIDs and the unit ids operators choose all fit.

Ordered ids keep the ledger's indexes append-mostly; the standard library has no uuid7 before
Python 3.14.
"""

import os
import re
import time
import uuid

ID_MAX = 64
_SAFE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{ID_MAX - 1}}}", re.ASCII)
ID_RULE = f"1–{ID_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_safe_id(value: str) -> bool:
    return _SAFE_ID.fullmatch(value) is not None


def uuid7() -> str:
    """The id docex gives whatever it makes: documents, commands, the router's messages."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10)) & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def delivery_message_id(doc_id: str, recipient: str, attempt: int) -> str:
    """A delivery's AMQP message id: a republish after a crash carries the same one, so the
    unit can tell; a resend (§38) is the next attempt and carries another."""
    return f"{doc_id}/{recipient}/{attempt}"
