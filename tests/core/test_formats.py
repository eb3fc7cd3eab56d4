"""Body formats (§27): CEB out of the box, PDF and OFD by their bytes."""

from __future__ import annotations

import pytest

from docex import formats
from tests.documents import PDF, ofd

# No public signature is known for CEB; this stands for a binary body of some fixed layout.
CEB_LIKE = b"\x00\x01\x02CEB\x00" + bytes(range(256)) * 4


def test_a_binary_body_labelled_ceb_is_taken_without_configured_magic() -> None:
    """§27: CEB is the rulebook's format: accepted without anything configured."""
    assert formats.matches("ceb", CEB_LIKE, {})


@pytest.mark.parametrize(
    ("what", "content"),
    [
        ("PDF", PDF),
        ("OFD", ofd()),
        ("DOCX or any ZIP", b"PK\x03\x04" + bytes(64)),
        ("DOC, an OLE2 file", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64)),
        ("RTF", b"{\\rtf1\\ansi notice}"),
        ("UTF-8 text", "关于做好年终工作的通知\n".encode()),
        ("GB 18030 text", "关于做好年终工作的通知\r\n".encode("gb18030")),
        ("UTF-16 text", "通知".encode("utf-16")),
        ("nothing", b""),
    ],
)
def test_a_body_labelled_ceb_that_is_recognisably_another_format_is_not_ceb(
    what: str, content: bytes
) -> None:
    """§27: the editable formats (and the other fixed ones, mislabelled) are refused as CEB."""
    assert not formats.matches("ceb", content, {}), what


def test_configured_ceb_magic_makes_the_check_positive() -> None:
    """§27: an operator who knows the signature of their CEB producer checks by it."""
    magic = {"ceb": "00010243454200"}
    assert formats.matches("ceb", CEB_LIKE, magic)
    assert not formats.matches("ceb", b"\x00\x09" + bytes(64), magic)


def test_pdf_and_ofd_are_judged_by_their_bytes_whatever_is_configured() -> None:
    """§27"""
    assert formats.matches("pdf", PDF, {"pdf": "00"})
    assert formats.matches("ofd", ofd(), {})
    assert not formats.matches("ofd", b"PK\x03\x04" + bytes(64), {})
    assert formats.detect(PDF) == "pdf" and formats.detect(CEB_LIKE) is None
