"""Where in a TOML file a setting is, so a configuration error can name its line.

tomllib gives values, not positions; the layouts operators write (tables, arrays of tables,
one key per line) are simple enough to find a key by its table header and name.
"""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]\s*(#.*)?$")

Path = tuple[str | int, ...]


def parse_path(msgspec_path: str) -> Path:
    """`$.units[1].name` → ("units", 1, "name")."""
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]", msgspec_path):
        parts.append(name if name else int(index))
    return tuple(parts)


def line_of(text: str, path: Path) -> int | None:
    """1-based line of the setting at `path`, or of its table, or None if not found."""
    lines = text.splitlines()
    table, index, key = _split(path)
    start, end = _section(lines, table, index)
    if start is None:
        return None
    if key is None:
        return start + 1 if start >= 0 else None
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(start + 1, end):
        if pattern.match(lines[number]):
            return number + 1
    return start + 1 if start >= 0 else None


def _split(path: Path) -> tuple[str, int | None, str | None]:
    if not path:
        return "", None, None
    table = str(path[0])
    rest = list(path[1:])
    index = rest.pop(0) if rest and isinstance(rest[0], int) else None
    key = str(rest[0]) if rest else None
    return table, index if isinstance(index, int) else None, key


def _section(lines: list[str], table: str, index: int | None) -> tuple[int | None, int]:
    """The header line of the table (-1 for the top level) and where the table ends."""
    start: int | None = None
    seen = -1
    for number, line in enumerate(lines):
        header = _ARRAY_TABLE.match(line) or _TABLE.match(line)
        if header is None:
            continue
        if start is not None:
            return start, number
        if header.group(1) == table:
            seen += 1
            if index is None or seen == index:
                start = number
    return start, len(lines)
