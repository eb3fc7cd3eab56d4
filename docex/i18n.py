"""What a clerk or an operator reads, in their language: Chinese where the locale says so
(`LANG=zh_CN.UTF-8`, or LANGUAGE, LC_ALL, LC_MESSAGES), English otherwise (`LANG=C`).

Sentences are written in English in the code and marked `_("…")`, with named `{fields}`
filled in after translation (word order differs). The catalog is
docex/locale/zh_CN/LC_MESSAGES/docex.po; `make locale` compiles it to the .mo next to it,
which is committed so an install needs no gettext tools."""

from __future__ import annotations

import functools
import gettext
from pathlib import Path

_LOCALE = Path(__file__).parent / "locale"


@functools.cache
def _catalog() -> gettext.NullTranslations:
    """Looked up on first use, so the locale of the process that prints is the one used."""
    return gettext.translation("docex", _LOCALE, fallback=True)


def _(message: str) -> str:
    return _catalog().gettext(message)


def N_(message: str) -> str:
    """Marks a sentence for the catalog where it is defined; `_` translates it where used."""
    return message


def translate_argparse() -> None:
    """argparse's own words (usage, options, its errors) come through the process's default
    gettext domain: make it docex's catalog, which carries them (scripts/translations.py)."""
    gettext.bindtextdomain("docex", _LOCALE)
    gettext.textdomain("docex")
