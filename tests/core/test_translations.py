"""Every sentence marked for translation has its Chinese in the committed catalog: a new
`_("…")` without `make locale` fails here, not in front of a clerk."""

from __future__ import annotations

import ast
import gettext
import string
from pathlib import Path

import docex

PACKAGE = Path(docex.__file__).parent


def marked_sentences() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"_", "N_"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_marked_sentence_has_its_chinese() -> None:
    chinese = gettext.translation("docex", PACKAGE / "locale", languages=["zh_CN"])
    sentences = marked_sentences()
    assert len(sentences) > 100
    missing = sorted(s for s in sentences if chinese.gettext(s) == s)
    assert missing == [], "run `make locale` after adding their Chinese to scripts/translations.py"


def test_a_translation_keeps_the_fields_it_is_given() -> None:
    """A Chinese sentence may drop a field but never ask for one the code does not give."""
    chinese = gettext.translation("docex", PACKAGE / "locale", languages=["zh_CN"])
    for sentence in marked_sentences():
        extra = fields(chinese.gettext(sentence)) - fields(sentence)
        # Given beside the sentence for the catalog's use (docex/cli/unit_support.py).
        extra -= {"explanation", "requested", "remaining"}
        assert not extra, f"{sentence!r} → {chinese.gettext(sentence)!r} asks for {extra}"


def fields(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def test_a_clerk_reads_the_boards_state_words() -> None:
    """`docex unit events|status` and `docex router status` name a delivery's state as the
    board does; `delivered` alone is shorter there (an event, not a column saying 未签收)."""
    from docex.board.present import STATES
    from docex.cli.rejections import WORDS

    chinese = gettext.translation("docex", PACKAGE / "locale", languages=["zh_CN"])
    assert {s: chinese.gettext(WORDS[s]) for s in STATES if s != "delivered"} == {
        s: word for s, word in STATES.items() if s != "delivered"
    }
