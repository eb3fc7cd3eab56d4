"""A command the exchange refuses: a reason code a unit's integrator can act on, and a message
for people."""

from __future__ import annotations

# Characters of a rejection's message. Ours quote values short (wire.quoted), but some come
# from elsewhere: msgspec quotes a wrong enum value whole.
MESSAGE_MAX = 500


class Rejection(Exception):
    def __init__(self, code: str, message: str) -> None:
        if len(message) > MESSAGE_MAX:
            message = message[: MESSAGE_MAX - 1] + "…"
        super().__init__(message)
        self.code = code
        self.message = message
