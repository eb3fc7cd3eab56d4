"""File names made from text a sender chose, and writing files only where they belong.

A unit saves what it receives under names built from the document's id and format (and,
later, its 文号 and title). A sender chooses those, and one that is hostile, compromised or
careless can make them `../../x`, an absolute path, a NUL, terminal escapes, a Windows device
name or 10,000 characters. `safe_stem` turns any text into one name component that is safe on
Linux and on the Windows shares a hot folder may sit on, keeps Chinese readable, and stays
well within the 255 bytes filesystems allow. Whenever it had to change the text, it appends a
hash of the original, so two texts never end up in one file; a text it left alone never has
that mark, so no sender can choose an id that lands on another document's file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import unicodedata
from pathlib import Path

MAX_NAME_BYTES = 200
_MAX_EXTENSION_CHARS = 10
_EXTENSION = re.compile(rf"[a-z0-9]{{1,{_MAX_EXTENSION_CHARS}}}")
_MAX_STEM_BYTES = MAX_NAME_BYTES - len(".") - _MAX_EXTENSION_CHARS
_REPLACEMENT = "_"
_HASH_MARK = "~"
_HASH_CHARS = 16
# Path separators, what Windows forbids in names, and the hash mark (see the module's doc).
_FORBIDDEN = frozenset('/\\<>:"|?*' + _HASH_MARK)
# Control characters, format characters (bidi overrides, zero-width), lone surrogates, private
# use, unassigned code points, line and paragraph separators: nothing a reader can see.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# A hidden file, an option to whatever command is run on the file, or a name easy to misread.
_BAD_FIRST = frozenset(".- ")
# Windows opens the device, not a file, for these names, whatever extension follows.
_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10)}
)


class UnsafeFileName(ValueError):
    """A file would not land directly inside the directory meant for it; nothing was written."""


def is_unprintable(char: str) -> bool:
    """Whether a character must never reach a file name or a terminal as it is."""
    return unicodedata.category(char) in _UNPRINTABLE


def safe_stem(text: str) -> str:
    """One file-name component for any text, at most `MAX_NAME_BYTES` with any extension
    `safe_extension` gives; the same text always gives the same name."""
    cleaned = "".join(_REPLACEMENT if c in _FORBIDDEN or is_unprintable(c) else c for c in text)
    cleaned = _guard_start(cleaned)
    if cleaned == text and len(text.encode()) <= _MAX_STEM_BYTES:
        return text
    room = _MAX_STEM_BYTES - len(_HASH_MARK) - _HASH_CHARS
    kept = cleaned.encode()[:room].decode(errors="ignore")
    return f"{kept}{_HASH_MARK}{_digest(text)}"


def safe_extension(format: str) -> str:
    """The document's format as a file extension: `pdf`, `ofd` and the like as they are;
    anything that is not a short lower-case word is `bin`."""
    return format if _EXTENSION.fullmatch(format) else "bin"


def write_inside(directory: Path, name: str, data: bytes) -> Path:
    """Write `data` to `directory / name`, refusing with `UnsafeFileName` a name that would
    lead anywhere else (a path, `..`, a link planted there): the names are made safe before,
    and this makes sure. The file is written under a dot name and renamed, so no reader ever
    sees half of it, and a failed write leaves nothing behind."""
    path = directory / name
    if "\0" in name or path.resolve().parent != directory.resolve():
        raise UnsafeFileName(f"{name!r} would be written outside {directory}")
    temporary = directory / f".{name}.tmp"
    try:
        # A link planted under the temporary name is not followed either.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        with os.fdopen(os.open(temporary, flags, 0o666), "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return path


def _guard_start(name: str) -> str:
    if not name:
        return _REPLACEMENT
    if name[0] in _BAD_FIRST:
        name = _REPLACEMENT + name[1:]
    if name.split(".")[0].rstrip(" ").upper() in _DEVICES:
        name = _REPLACEMENT + name
    return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()[:_HASH_CHARS]
