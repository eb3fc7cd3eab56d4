"""Columns that line up on a terminal, where a Chinese character takes two places."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def table_lines(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            cell + " " * (column - width(cell)) for cell, column in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
