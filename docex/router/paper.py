"""The printable paper notice of §47: when a fault outlasts the fallback time, the General Office
tells each affected unit on paper which documents are now exchanged on paper.

The notice is read by people who may have no Chinese font installed, so the font goes into the
PDF: a TrueType CJK font, subset and embedded. reportlab's built-in STSong-Light is a CID font
that is never embedded, and prints as empty boxes on such a machine.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from docex.core import texts

# TrueType CJK fonts Debian ships, best first: (path, index of the face in a collection).
# Noto CJK is not here: its CFF outlines are not supported by reportlab.
FONT_CANDIDATES = (
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),  # fonts-arphic-uming (Song)
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),  # fonts-wqy-microhei
    (Path("/usr/share/fonts/truetype/arphic/ukai.ttc"), 0),  # fonts-arphic-ukai
)
_FONT = "docex-cjk"


class PaperError(Exception):
    pass


@dataclass(frozen=True)
class PaperDocument:
    doc_no: str
    title: str
    sender: str
    role: str
    print_quota: int


@dataclass(frozen=True)
class PaperNotice:
    unit_id: str
    unit_name: str
    fault_id: int
    # What is wrong, in a sentence (Chinese).
    fault: str
    started_at: str
    created_at: str
    fallback_hours: float
    # The first notice of a fault for a unit is 1; later ones list documents sent since.
    sequence: int
    office_name: str
    documents: list[PaperDocument]


@functools.cache
def cjk_font() -> str:
    """Register the first CJK TrueType font found, once per process; returns its name."""
    for path, index in FONT_CANDIDATES:
        if path.is_file():
            pdfmetrics.registerFont(TTFont(_FONT, str(path), subfontIndex=index))
            return _FONT
    looked = ", ".join(str(path) for path, _ in FONT_CANDIDATES)
    raise PaperError(
        f"no Chinese TrueType font to embed in paper notices; looked for {looked}."
        " Install one: apt-get install fonts-arphic-uming"
    )


def render(notice: PaperNotice, path: Path) -> None:
    """Write the notice as a PDF; the file appears whole or not at all."""
    font = cjk_font()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    title = texts.paper_sheet_title(notice.sequence)
    document = SimpleDocTemplate(
        str(partial),
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=notice.office_name,
        initialFontName=font,
    )
    try:
        document.build(_story(notice, title, font))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _story(notice: PaperNotice, title: str, font: str) -> list[Flowable]:
    heading = ParagraphStyle("heading", fontName=font, fontSize=18, leading=26, alignment=TA_CENTER)
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=18, wordWrap="CJK")
    small = ParagraphStyle("small", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    story: list[Flowable] = [
        Paragraph(title, heading),
        Spacer(1, 4 * mm),
        Paragraph(
            texts.paper_sheet_header(notice.fault_id, notice.sequence, notice.created_at), small
        ),
        Spacer(1, 4 * mm),
        Paragraph(texts.paper_sheet_addressee(notice.unit_name, notice.unit_id), body),
        Paragraph(
            texts.paper_sheet_body(
                notice.fault, notice.started_at, notice.fallback_hours, bool(notice.documents)
            ),
            body,
        ),
        Spacer(1, 5 * mm),
    ]
    if notice.documents:
        story += [_table(notice.documents, font, small), Spacer(1, 8 * mm)]
        story.append(Paragraph(texts.PAPER_SHEET_SIGNATURES, body))
    story += [
        Spacer(1, 12 * mm),
        Paragraph(texts.paper_sheet_signer(notice.office_name), body),
        Paragraph(texts.paper_sheet_date(notice.created_at), body),
    ]
    return story


def _table(documents: list[PaperDocument], font: str, style: ParagraphStyle) -> Table:
    rows: list[list[object]] = [[Paragraph(text, style) for text in texts.PAPER_SHEET_COLUMNS]]
    for number, doc in enumerate(documents, start=1):
        rows.append(
            [
                str(number),
                Paragraph(doc.doc_no, style),
                Paragraph(doc.title, style),
                Paragraph(doc.sender, style),
                texts.role_name(doc.role),
                str(doc.print_quota),
                "",
            ]
        )
    widths = [10 * mm, 32 * mm, 48 * mm, 24 * mm, 16 * mm, 14 * mm, 26 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                # Room to sign by hand in the last column.
                ("TOPPADDING", (0, 1), (-1, -1), 9),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 9),
            ]
        )
    )
    return table
