"""Real documents for tests: a small PDF and OFD, sealed with real seals."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import msgspec

from docex import wire
from docex.seals.seal import Seal
from docex.unit.compose import apply_seal, compose
from tests.conftest import WORKDAY_MORNING

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def paged_pdf(pages: int) -> bytes:
    """A PDF with pages to print, each saying which it is (as pdftotext reads it)."""
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for page in range(1, pages + 1):
        canvas.drawString(72, 720, f"notice page {page} of {pages}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def ofd() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("OFD.xml", '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
        archive.writestr("Doc_0/Document.xml", "<ofd:Document/>")
    return buffer.getvalue()


def sealed_envelope(
    seal: Seal,
    *,
    sender: str = "gov-office",
    to: list[str] | None = None,
    cc: list[str] | None = None,
    print_quota: dict[str, int] | None = None,
    content: bytes = PDF,
    format: str = "pdf",
    title: str = "关于做好年终工作的通知",
    now: datetime = WORKDAY_MORNING,
    **headers: object,
) -> wire.Envelope:
    """An envelope sealed after any header overrides, as a (possibly careless) sender would."""
    envelope = compose(
        content,
        sender=sender,
        to=["finance"] if to is None else to,
        cc=cc or [],
        print_quota=print_quota or {},
        title=title,
        doc_no="穗府办〔2026〕12号",
        format=format,
        now=now,
    )
    envelope = msgspec.structs.replace(envelope, **headers)
    return apply_seal(envelope, seal, sealed_by="张三", now=now)


def submit(envelope: wire.Envelope) -> wire.Submit:
    return wire.Submit(v=wire.VERSION, envelope=envelope)


def delivered(envelope: wire.Envelope) -> wire.Deliver:
    """The envelope as the router hands it to a main recipient, sent on a workday morning: for
    tests that play the router, or a compromised path to the unit's queue."""
    return wire.Deliver(
        envelope=envelope,
        role="main",
        print_quota=1,
        attempt=1,
        sent_at="2026-11-26T10:00:00.000+08:00",
        sent_exchange_date="2026-11-26",
    )
