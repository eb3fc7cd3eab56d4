"""A delivered document as an office system finds it on disk: `<id>.<format>`, then its
`.json` beside it. `docex unit … inbox --save`, `… download --save` and the hot folder all
save documents this way; the id and the format are the sender's to choose, so the names go
through `docex.filenames`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from docex import wire
from docex.filenames import safe_extension, safe_stem, write_inside


def document_name(envelope: wire.Envelope) -> str:
    extension = safe_extension(envelope.format)
    if extension == "json":
        extension = "bin"  # it would be overwritten by its own metadata
    return f"{safe_stem(envelope.id)}.{extension}"


def readable_name(envelope: wire.Envelope, taken: Callable[[str], bool]) -> str:
    """`<文号> <标题>.pdf`, as a clerk files it; the id is added only when another document
    already has that name or its `.json` (`taken`), so no document overwrites another."""
    extension = document_name(envelope).rsplit(".", 1)[1]
    stem = safe_stem(f"{envelope.doc_no} {envelope.title}")
    if taken(f"{stem}.{extension}") or taken(f"{stem}.json"):
        stem = safe_stem(f"{envelope.doc_no} {envelope.title} {envelope.id}")
    return f"{stem}.{extension}"


def save_delivery(
    directory: Path,
    deliver: wire.Deliver,
    extra: dict[str, object] | None = None,
    name: str | None = None,
) -> Path:
    """The document (under `name`, else its id), then its metadata with `extra` (the `.json`
    last: its appearance says the document is complete); returns the document's path."""
    envelope = deliver.envelope
    document = write_inside(directory, name or document_name(envelope), envelope.content)
    write_metadata(document, deliver, extra or {})
    return document


def write_metadata(document: Path, deliver: wire.Deliver, extra: dict[str, object]) -> None:
    text = json.dumps(delivery_metadata(deliver) | extra, ensure_ascii=False, indent=2)
    metadata = metadata_path(document)
    write_inside(metadata.parent, metadata.name, text.encode())


def metadata_path(document: Path) -> Path:
    return document.with_suffix(".json")


def delivery_metadata(deliver: wire.Deliver) -> dict[str, object]:
    """What an office system files beside a delivered document (a JSON sidecar)."""
    envelope = deliver.envelope
    return {
        "id": envelope.id,
        "doc_no": envelope.doc_no,
        "title": envelope.title,
        "sender": envelope.sender,
        "classification": envelope.classification,
        "format": envelope.format,
        "role": deliver.role,
        "print_quota": deliver.print_quota,
        "sent_at": deliver.sent_at,
        "sent_exchange_date": deliver.sent_exchange_date,
        "paper_attachments": envelope.paper_attachments,
        "sha256": envelope.sha256.hex(),
        "seal_serial": envelope.seal.serial if envelope.seal else None,
        "sealed_by": envelope.sealed_by,
    }
