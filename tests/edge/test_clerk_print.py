"""`docex unit … print` makes paper a registrar can print: one PDF per granted copy, each page
marked with its number (份号), the unit and the verification seal, as pdftotext reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pypdf import PdfReader

from docex.router.service import Router
from tests.command_line import docex, sent_id
from tests.conftest import Pki, UnitConfigWriter
from tests.documents import paged_pdf


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


async def test_printed_copies_are_numbered_sealed_and_within_the_quota(
    router: Router, unit_config: UnitConfigWriter, pki: Pki, tmp_path: Path
) -> None:
    """§35: each paper copy carries its number and the verification seal; §31, §38: no more
    copies than the sender allowed, and more only once the sender grants them."""
    document = tmp_path / "notice.pdf"
    document.write_bytes(paged_pdf(3))
    office = unit_config("gov-office", sealed_by="张三")
    finance = unit_config(
        "finance", verification_carrier=str(pki.directory / "finance-verification.carrier")
    )
    code, out = await docex(
        "unit", "--config", str(office), "send", str(document), "--to", "finance",
        "--copies", "finance=2", "--title", "关于年终工作的通知", "--doc-no", "穗府办〔2026〕9号",
    )  # fmt: skip
    assert code == 0, out
    doc_id = sent_id(out)
    out_dir = tmp_path / "to-print"
    printing = ["unit", "--config", str(finance), "print", doc_id, "--out", str(out_dir)]

    code, out = await docex(*printing, "--copies", "2")
    assert code == 0, out
    assert "copies 1–2 of 2 (pages per copy: 3)" in out and "0 left" in out
    copies = sorted(out_dir.glob("*.pdf"))
    assert [p.name for p in copies] == [
        "穗府办〔2026〕9号 关于年终工作的通知 第1份.pdf",
        "穗府办〔2026〕9号 关于年终工作的通知 第2份.pdf",
    ]
    for number, copy in enumerate(copies, start=1):
        assert len(PdfReader(copy).pages) == 3
        pages = pdf_text(copy).split("\f")
        for page, text in enumerate(pages[:3], start=1):
            assert f"notice page {page} of 3" in text
            assert f"份号 {number}/2" in text
            assert "市财政局" in text and "验证印章" in text

    code, out = await docex(*printing, "--copies", "1")
    assert (code, out.strip()) == (1, "denied: asked for 1, 0 of 2 copies left")
    assert len(list(out_dir.glob("*.pdf"))) == 2
    code, out = await docex(*printing, "--copies", "1", env={"LANG": "zh_CN.UTF-8"})
    assert (code, out.strip()) == (1, "不予打印：申请1份，尚可打印0份")

    code, out = await docex(
        "unit", "--config", str(finance), "quota-request", doc_id, "--copies", "1",
        "--reason", "分管领导需要一份",
    )  # fmt: skip
    assert code == 0, out
    code, out = await docex(
        "unit", "--config", str(office), "quota-grant", doc_id, "--to", "finance", "--copies", "1"
    )
    assert code == 0, out
    code, out = await docex(*printing, "--copies", "1")
    assert code == 0 and "copies 3–3 of 3" in out, out
    third = out_dir / "穗府办〔2026〕9号 关于年终工作的通知 第3份.pdf"
    assert "份号 3/3" in pdf_text(third)
    assert len(list(out_dir.glob("*.pdf"))) == 3
