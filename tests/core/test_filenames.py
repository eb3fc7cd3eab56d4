"""File names from text a sender chose: any text gives one safe name component, and the files
are written only directly inside the directory asked for."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from docex.filenames import MAX_NAME_BYTES, UnsafeFileName, safe_extension, safe_stem, write_inside

# Every code point, surrogates included, and the pieces a hostile sender would reach for.
ANY_CHARACTER = st.characters(exclude_categories=[])
HOSTILE_PIECES = st.sampled_from(
    ["/", "\\", "..", ".", "\0", "\n", "\r", "\x1b[2J", "\u202e", "\u200b", "\ufeff", "CON",
     "nul", "-", " ", "~", "文", "〔", ":", "*", "?", '"', "|", "<", ">", "\ud800"]
)  # fmt: skip
HOSTILE_TEXT = st.lists(HOSTILE_PIECES | ANY_CHARACTER, max_size=60).map("".join) | st.text(
    ANY_CHARACTER
)
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')


def file_name(text: str, format: str = "pdf") -> str:
    return f"{safe_stem(text)}.{safe_extension(format)}"


@given(HOSTILE_TEXT, st.text(ANY_CHARACTER, max_size=12))
@example("文" * 10_000, "pdf")
@example("", "")
@example(".", ".")
@example("..", "..")
@example("../../etc/passwd", "/x")
@example("\ud800\udfff", "pdf\n")
def test_any_text_makes_one_safe_name(text: str, format: str) -> None:
    name = file_name(text, format)
    assert name not in {"", ".", ".."} and not name.startswith((".", "-", " "))
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert not {"/", "\0"} & set(name) and not WINDOWS_FORBIDDEN & set(name)
    assert not [c for c in name if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029"]
    assert PurePosixPath(name).name == name and PureWindowsPath(name).name == name
    directory = "/srv/docex/in"
    assert os.path.dirname(os.path.normpath(os.path.join(directory, name))) == directory
    assert file_name(text, format) == name


@given(HOSTILE_TEXT, HOSTILE_TEXT)
def test_different_texts_never_share_a_name(first: str, second: str) -> None:
    """Not even when they differ only in what had to be replaced or cut off."""
    if first != second:
        assert safe_stem(first) != safe_stem(second)


@given(HOSTILE_TEXT)
@example("../../x")
def test_no_text_can_take_the_name_another_was_given(text: str) -> None:
    """A sender who sees the name a changed id was given and sends that as an id of its own
    gets another name."""
    name = safe_stem(text)
    if name != text:
        assert safe_stem(name) != name


@pytest.mark.parametrize(
    ("text", "second"), [("a/b", "a\\b"), ("a:b", "a_b"), ("文" * 5000, "文" * 5001), ("", "_")]
)
def test_texts_alike_once_made_safe_keep_apart(text: str, second: str) -> None:
    assert safe_stem(text) != safe_stem(second)


@pytest.mark.parametrize(
    "text",
    [
        "01a22999-b068-7ae9-9699-d800999bf76b",
        "穗府办〔2026〕12号 关于做好年终工作的通知",
        "x.y",
        "Ünïcödé",
    ],
)
def test_a_safe_text_is_kept_as_it_is(text: str) -> None:
    assert safe_stem(text) == text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("../../x", "_._.._x"),
        ("/tmp/abs", "_tmp_abs"),
        ("x\0y", "x_y"),
        ("..", "_."),
        ("-rf", "_rf"),
        ("CON", "_CON"),
        ("lpt1.txt", "_lpt1.txt"),
        ("a\u202eb\u200bc", "a_b_c"),
        ("穗府办〔2026〕12号:通知", "穗府办〔2026〕12号_通知"),
        ("", "_"),
    ],
)
def test_an_unsafe_text_keeps_what_it_can_and_gains_a_hash(text: str, kept: str) -> None:
    stem = safe_stem(text)
    readable, mark, digest = stem.rpartition("~")
    assert (readable, mark) == (kept, "~")
    assert len(digest) == 16 and set(digest) <= set("0123456789abcdef")


def test_a_long_text_keeps_its_beginning_within_the_byte_limit() -> None:
    stem = safe_stem("文" * 5000)
    assert stem.startswith("文" * 50) and len(stem.encode()) <= MAX_NAME_BYTES - 11


@pytest.mark.parametrize(
    ("format", "extension"),
    [("pdf", "pdf"), ("ofd", "ofd"), ("PDF", "bin"), ("../x", "bin"), ("", "bin"),
     ("pdf\n", "bin"), ("abcdefghijk", "bin"), ("0123456789", "0123456789")],
)  # fmt: skip
def test_a_format_that_is_not_a_short_lowercase_word_becomes_bin(
    format: str, extension: str
) -> None:
    assert safe_extension(format) == extension


def test_write_inside_writes_the_file_whole(tmp_path: Path) -> None:
    path = write_inside(tmp_path, "x.pdf", b"content")
    assert path == tmp_path / "x.pdf" and path.read_bytes() == b"content"
    assert write_inside(tmp_path, "x.pdf", b"again").read_bytes() == b"again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pdf"]


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "/tmp/abs", "x\0y"])
def test_write_inside_refuses_a_name_that_is_not_one_component(tmp_path: Path, name: str) -> None:
    directory = tmp_path / "in"
    directory.mkdir()
    with pytest.raises(UnsafeFileName):
        write_inside(directory, name, b"content")
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


@pytest.mark.parametrize(
    ("planted", "refusal"), [("x.pdf", UnsafeFileName), (".x.pdf.tmp", OSError)]
)
def test_write_inside_never_writes_through_a_link_planted_in_the_directory(
    tmp_path: Path, planted: str, refusal: type[Exception]
) -> None:
    """Belt and braces: someone who can write to the directory planted a link to elsewhere,
    under the file's name or under the temporary name it is written as first."""
    directory = tmp_path / "in"
    directory.mkdir()
    outside = tmp_path / "outside"
    outside.write_bytes(b"not yours")
    (directory / planted).symlink_to(outside)
    with pytest.raises(refusal):
        write_inside(directory, "x.pdf", b"content")
    assert outside.read_bytes() == b"not yours"
    assert (directory / "x.pdf").is_symlink() == (planted == "x.pdf")


def test_write_inside_leaves_nothing_behind_when_the_write_fails(tmp_path: Path) -> None:
    (tmp_path / "x.pdf").mkdir()
    with pytest.raises(IsADirectoryError):
        write_inside(tmp_path, "x.pdf", b"content")
    assert [path.name for path in tmp_path.iterdir()] == ["x.pdf"]
