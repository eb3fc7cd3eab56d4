"""Time-ordered unique ids (UUIDv7, RFC 9562) for documents and commands.

Ordered ids keep the ledger's indexes append-mostly; the standard library has no uuid7 before
Python 3.14.
"""

import os
import time
import uuid


def uuid7() -> str:
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10)) & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))
