"""Print-ready copies of a delivered PDF (§35): every page of copy k carries its number (份号
k/N), the printing unit, the time the exchange granted it and the unit's verification-seal
mark, so a paper copy can be told from another and traced back to its grant.

The copy numbers come from the router's grant, which its ledger keeps as the §35 record; this
module only draws them. `copy_marks` is the rule, `stamped` the drawing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from docex import wire
from docex.filenames import safe_stem
from docex.i18n import _
from docex.seals.errors import SealError
from docex.seals.kinds import SealKind
from docex.seals.verify import SealVerifier

if TYPE_CHECKING:
    from pypdf import PageObject


class NotPrintable(Exception):
    """The document cannot be stamped here (not a PDF, or a PDF that cannot be read)."""


@dataclass(frozen=True)
class CopyMark:
    copy: int
    total: int
    unit_id: str
    unit_name: str
    printed_at: str
    seal_serial: str


def copy_marks(
    grant: wire.PrintGrant, unit_name: str, seal_serial: str, timezone: ZoneInfo
) -> list[CopyMark]:
    """One mark per granted copy. N is every copy the unit may print of this document: the
    ones granted so far and the ones left."""
    total = grant.last_copy + grant.remaining
    printed_at = datetime.fromisoformat(grant.at).astimezone(timezone).strftime("%Y-%m-%d %H:%M")
    return [
        CopyMark(copy, total, grant.recipient, unit_name, printed_at, seal_serial)
        for copy in range(grant.first_copy, grant.last_copy + 1)
    ]


def check_grant_seal(verifier: SealVerifier, grant: wire.PrintGrant, now: datetime) -> None:
    """A grant counts only under the exchange's seal: it is what makes the copies official."""
    if grant.seal is None:
        raise NotPrintable(_("the print grant carries no exchange seal"))
    try:
        verifier.verify(
            grant.seal.cert,
            wire.signed_bytes(grant),
            grant.seal.sig,
            unit_id="exchange",
            kind=SealKind.EXCHANGE,
            at=now,
        )
    except SealError as exc:
        from docex.cli.rejections import detail

        raise NotPrintable(
            _("the print grant's exchange seal does not verify: {problem}").format(
                problem=detail(exc.message)
            )
        ) from exc


def copy_file_name(envelope: wire.Envelope, mark: CopyMark) -> str:
    width = len(str(mark.total))
    return f"{safe_stem(f'{envelope.doc_no} {envelope.title} 第{mark.copy:0{width}d}份')}.pdf"


def page_count(pdf: bytes) -> int:
    """How many pages each copy has; NotPrintable when it cannot be stamped."""
    return len(_pages(pdf))


def stamped(pdf: bytes, mark: CopyMark) -> bytes:
    """The document with the copy's mark drawn on every page."""
    from pypdf import PdfReader, PdfWriter

    _pages(pdf)  # readable, with pages
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    for page in writer.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        page.merge_page(PdfReader(io.BytesIO(_overlay(width, height, mark))).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pages(pdf: bytes) -> list[PageObject]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not pdf.startswith(b"%PDF-"):
        raise NotPrintable(_("only PDF documents can be stamped and printed here"))
    try:
        pages = list(PdfReader(io.BytesIO(pdf)).pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise NotPrintable(_("the PDF cannot be read: {error}").format(error=exc)) from exc
    if not pages:
        raise NotPrintable(_("the PDF has no pages"))
    return pages


def _overlay(width: float, height: float, mark: CopyMark) -> bytes:
    from reportlab.lib.colors import red
    from reportlab.pdfgen.canvas import Canvas

    from docex.fonts import reportlab_cjk_font

    font = reportlab_cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height))
    canvas.setFillColor(red)
    canvas.setStrokeColor(red)
    canvas.setFont(font, 14)
    number = f"{mark.copy:0{len(str(mark.total))}d}"
    canvas.drawRightString(width - 36, height - 36, f"份号 {number}/{mark.total}")
    # The verification-seal mark: a ring with the unit's name, its serial beneath.
    x, y = width - 96, 70
    canvas.setLineWidth(1.5)
    canvas.circle(x, y, 40)
    canvas.setFont(font, 9)
    canvas.drawCentredString(x, y + 6, mark.unit_name or mark.unit_id)
    canvas.drawCentredString(x, y - 8, "验证印章")
    canvas.setFont(font, 7)
    canvas.drawCentredString(x, y - 52, f"印章序列号 {mark.seal_serial[:16]}")
    canvas.setFont(font, 8)
    canvas.drawString(
        36, 30, f"{mark.unit_name}（{mark.unit_id}）打印 {mark.printed_at} 经电子公文交换系统授权"
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
