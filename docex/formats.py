"""Which document body formats the exchange takes, judged by the bytes, not by the label (§27).

The rulebook asks for a body nobody can alter after sealing, in CEB (方正 Apabi's fixed-layout
format), the one format it names, so CEB is accepted out of the box; OFD (GB/T 33190) and PDF,
today's fixed-layout formats, are additions an operator configures. PDF starts with `%PDF-`;
OFD is a ZIP container with `OFD.xml` at its root.

CEB has no published specification or file signature, and none could be confirmed in public
sources, so the router does not guess one. Without configured magic bytes a body labelled CEB
is accepted unless it is recognisably something else: PDF, a ZIP container (OFD, DOCX, WPS),
an OLE2 file (DOC, WPS, XLS), RTF or text, which are the editable formats (or the other fixed
ones, mislabelled) that §27 keeps out. An operator who knows the signature their CEB producer
writes sets it under `[formats] ceb = "HEX"`, and the check becomes positive.
"""

import codecs
import io
import zipfile

_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
# What a CEB body must not be: each of these is another format, most of them editable.
_NOT_CEB = (
    _PDF_MAGIC,
    _ZIP_MAGIC,
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE2 compound file: DOC, XLS, old WPS
    b"{\\rtf",
    b"\xef\xbb\xbf",  # UTF-8 byte order mark: text
    b"\xff\xfe",  # UTF-16 byte order marks: text
    b"\xfe\xff",
)
# Enough of a body to tell text from a binary format, without reading 50 MB.
_TEXT_PROBE_BYTES = 4096


def _is_ofd(content: bytes) -> bool:
    if not content.startswith(_ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "OFD.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _is_text(head: bytes) -> bool:
    """UTF-8, or any text without control characters (GB 18030 too): a binary format has
    control bytes within its first few kilobytes."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return all(byte >= 0x20 or byte in b"\t\r\n" for byte in head)
    return True


def _could_be_ceb(content: bytes) -> bool:
    if not content or content.startswith(_NOT_CEB):
        return False
    return not _is_text(content[:_TEXT_PROBE_BYTES])


def matches(format_name: str, content: bytes, custom_magic_hex: dict[str, str]) -> bool:
    if format_name == "pdf":
        return content.startswith(_PDF_MAGIC)
    if format_name == "ofd":
        return _is_ofd(content)
    magic = custom_magic_hex.get(format_name)
    if magic is not None:
        return content.startswith(bytes.fromhex(magic))
    return format_name == "ceb" and _could_be_ceb(content)


def detect(content: bytes) -> str | None:
    """The built-in format a body is, for senders who do not name it; CEB has no signature
    to tell it by, so a CEB sender names it (`--format ceb`)."""
    return next((name for name in ("pdf", "ofd") if matches(name, content, {})), None)
