"""Which document body formats the exchange takes, judged by the bytes, not by the label (§27).

The rulebook asks for a body nobody can alter after sealing: CEB then, OFD or PDF today. PDF
starts with `%PDF-`; OFD is a ZIP container with `OFD.xml` at its root. CEB's signature is not
public, so its magic bytes (and any other format's) come from configuration.
"""

import io
import zipfile

_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"


def _is_ofd(content: bytes) -> bool:
    if not content.startswith(_ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "OFD.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def matches(format_name: str, content: bytes, custom_magic_hex: dict[str, str]) -> bool:
    if format_name == "pdf":
        return content.startswith(_PDF_MAGIC)
    if format_name == "ofd":
        return _is_ofd(content)
    magic = custom_magic_hex.get(format_name)
    return magic is not None and content.startswith(bytes.fromhex(magic))


def detect(content: bytes) -> str | None:
    """The built-in format a body is, for senders who do not name it."""
    return next((name for name in ("pdf", "ofd") if matches(name, content, {})), None)
