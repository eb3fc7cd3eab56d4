"""Documents and deliveries put in a ledger through the port, for the contract tests."""

from __future__ import annotations

import hashlib

from docex.ledger.port import LedgerWrites
from docex.ledger.records import StoredDocument

SENT_AT = "2026-03-02T09:00:00+08:00"


def stored_document(doc_id: str, content: bytes = b"%PDF-1.7 body") -> StoredDocument:
    return StoredDocument(
        id=doc_id,
        sender="finance",
        title="关于预算执行情况的通报",
        doc_no="财预〔2026〕1号",
        sha256=hashlib.sha256(content).digest(),
        envelope=b"sealed envelope of " + doc_id.encode(),
        sent_at=SENT_AT,
        sent_exchange_date=SENT_AT[:10],
    )


def add_document(
    ledger: LedgerWrites, doc_id: str, recipients: list[str], content: bytes = b"%PDF-1.7 body"
) -> StoredDocument:
    """A document sent by finance, each recipient a main delivery with a quota of 2."""
    document = stored_document(doc_id, content)
    ledger.insert_document(document, content, command_id=f"cmd-{doc_id}")
    for recipient in recipients:
        ledger.insert_delivery(doc_id, recipient, "main", 2)
    return document
