"""Making and sealing a document envelope: the first two of the three steps of sending (§29)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import msgspec

from docex import wire
from docex.ids import uuid7
from docex.seals.seal import Seal


def compose(
    content: bytes,
    *,
    sender: str,
    to: list[str],
    cc: list[str],
    print_quota: dict[str, int],
    title: str,
    doc_no: str,
    format: str,
    classification: wire.Classification = "public",
    paper_attachments: list[str] | None = None,
    now: datetime,
) -> wire.Envelope:
    return wire.Envelope(
        id=uuid7(),
        sender=sender,
        to=to,
        cc=cc,
        print_quota=print_quota,
        title=title,
        doc_no=doc_no,
        classification=classification,
        format=format,
        content=content,
        sha256=wire.content_digest(content),
        paper_attachments=paper_attachments or [],
        created_at=now.isoformat(),
        sealed_at="",
        sealed_by="",
    )


def apply_seal(
    envelope: wire.Envelope, seal: Seal, *, sealed_by: str, now: datetime
) -> wire.Envelope:
    """Sign every header and the content hash with the unit's signing seal (§18)."""
    unsealed = msgspec.structs.replace(
        envelope, sealed_at=now.isoformat(), sealed_by=sealed_by, seal=None
    )
    return msgspec.structs.replace(
        unsealed,
        seal=wire.SealStamp(
            serial=seal.serial,
            alg="ed25519",
            cert=seal.certificate_der,
            sig=seal.sign(wire.signing_bytes(unsealed)),
        ),
    )


def sending_fingerprint(content: bytes, *, doc_no: str, to: list[str], cc: list[str]) -> str:
    """What makes two sends the same document to a clerk: the same file, 文号 and recipients.
    The order recipients are named in does not matter; the title may be retyped."""
    key = json.dumps(
        [wire.content_digest(content).hex(), doc_no, sorted(set(to)), sorted(set(cc))],
        ensure_ascii=False,
    )
    return hashlib.sha256(key.encode()).hexdigest()
