"""Every `docex` verb given what a person gets wrong: each answer is one line that says what to
fix, with an exit status that says it failed, and never a traceback or a Python repr."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from docex.cli import main
from docex.cli.options import CONFIG_ENV
from docex.router.service import Router
from docex.seals.carrier import PASSWORD_ENV
from tests.command_line import docex
from tests.conftest import SEAL_PASSWORD, Pki, UnitConfigWriter
from tests.documents import PDF

DOC = "0192f0e0-0000-7000-8000-000000000000"
# Every verb of `docex unit`, with arguments it accepts.
UNIT_VERBS: list[list[str]] = [
    ["send", "{pdf}", "--to", "finance", "--copies-all", "1", "--title", "t", "--doc-no", "n",
     "--sealed-by", "张三"],
    ["inbox"],
    ["inbox", "--save", "{dir}"],
    ["status", DOC],
    ["events"],
    ["print", DOC, "--copies", "1", "--out", "{dir}"],
    ["download", DOC, "--save", "{dir}"],
    ["return", DOC, "--reason", "r"],
    ["resend-request", DOC, "--reason", "r"],
    ["resend", DOC, "--to", "finance"],
    ["quota-request", DOC, "--copies", "1", "--reason", "r"],
    ["quota-grant", DOC, "--to", "finance", "--copies", "1"],
    ["withdraw", DOC],
    ["attachments-received", DOC],
    ["units"],
    ["info", "request", "--to", "finance", "--title", "t", "--content", "c"],
    ["info", "reply", DOC, "--content", "c"],
    ["info", "update", "--period", "2026", "--part", "plan", "--title", "t", "--content", "c"],
    ["info", "submit", "--title", "t", "--content", "c"],
    ["info", "report", "--to", "finance", "--title", "t", "--content", "c"],
    ["info", "publish", "--issue", "1", "--title", "t", "--content", "c"],
    ["info", "adopt", DOC],
    ["info", "inbox"],
]  # fmt: skip
# Commands that read a router's config.
ROUTER_VERBS: list[list[str]] = [
    ["router", "status"],
    ["router", "run"],
    ["units", "provision", "--password-dir", "{dir}"],
    ["notices", "list"],
    ["notices", "show", "1"],
    ["report", "--period", "2026", "--out", "{dir}"],
    ["adapter", "hotfolder"],
    ["adapter", "mqtt"],
]
_REPR = re.compile(r"<\w*(Error|Exception)|Traceback|\w+Error\(")


def assert_one_line_failure(code: int, out: str, what: str) -> str:
    lines = out.strip().splitlines()
    assert code != 0, f"{what}: exit 0\n{out}"
    assert len(lines) == 1, f"{what}: {len(lines)} lines\n{out}"
    assert not _REPR.search(out), f"{what}: a Python repr or traceback\n{out}"
    return lines[0]


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """`main` configures the logs for a command's process; the tests after want them back."""
    saved = structlog.get_config()
    levels = {name: logging.getLogger(name).level for name in ("aio_pika", "aiormq")}
    yield
    structlog.configure(**saved)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def run_all(
    cases: list[tuple[str, list[str]]], capsys: pytest.CaptureFixture[str]
) -> list[tuple[str, int, str]]:
    """In this process, as `docex` runs them: a hundred interpreters would take minutes."""
    results = []
    for what, argv in cases:
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 2
        captured = capsys.readouterr()
        results.append((what, code, captured.out + captured.err))
    return results


def filled(argv: list[str], tmp_path: Path) -> list[str]:
    return [arg.format(pdf=tmp_path / "a.pdf", dir=tmp_path / "out") for arg in argv]


def test_every_unit_verb_with_wrong_settings_fails_in_one_line(
    unit_config: UnitConfigWriter,
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SEAL_PASSWORD)
    (tmp_path / "a.pdf").write_bytes(PDF)
    verification = pki.directory / "finance-verification.carrier"
    good = unit_config("finance", verification_carrier=str(verification)).read_text()
    settings = {
        "missing config": tmp_path / "nowhere.toml",
        "config is a folder": tmp_path,
        "wrong password": variant(tmp_path, good, r":[^:@/]*@", ":wrong@"),
        "unknown unit": variant(tmp_path, good, r'unit = "finance"', 'unit = "nobody"'),
        "broker down": variant(tmp_path, good, r"@127.0.0.1:5672/", "@127.0.0.1:1/"),
    }
    cases = [
        (
            f"{problem}: unit {' '.join(verb)}",
            ["unit", "--config", str(path), *filled(verb, tmp_path)],
        )
        for problem, path in settings.items()
        for verb in UNIT_VERBS
    ]
    for what, code, out in run_all(cases, capsys):
        line = assert_one_line_failure(code, out, what)
        problem = what.split(":")[0]
        expected = {
            "missing config": "nowhere.toml",
            "config is a folder": str(tmp_path),
            "wrong password": "check the password",
            "unknown unit": "'nobody'",
            "broker down": "127.0.0.1:1",
        }[problem]
        assert expected in line, f"{what}: {line}"


def variant(directory: Path, settings: str, wrong: str, instead: str) -> Path:
    """The unit's settings file with one thing wrong."""
    changed = re.sub(wrong, instead, settings, count=1)
    assert changed != settings
    path = directory / f"wrong-{hashlib.sha256(changed.encode()).hexdigest()[:8]}.toml"
    path.write_text(changed)
    return path


def test_every_router_verb_with_a_missing_or_unreadable_config_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    cases = [
        (f"{problem}: {' '.join(verb)}", [*filled(verb, tmp_path), "--config", str(path)])
        for problem, path in {
            "missing config": tmp_path / "nowhere.toml",
            "config is a folder": tmp_path,
        }.items()
        for verb in ROUTER_VERBS
    ]
    cases.append(("no config at all: router status", ["router", "status"]))
    for what, code, out in run_all(cases, capsys):
        assert_one_line_failure(code, out, what)


async def test_files_and_formats_a_clerk_gets_wrong(
    router: Router, unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    """§27: a format the exchange does not allow is refused by the router, in one line."""
    office = unit_config("gov-office")
    send = ["unit", "--config", str(office), "send", "--to", "finance", "--copies-all", "1"]
    send += ["--title", "t", "--doc-no", "n", "--sealed-by", "张三"]

    code, out = await docex(*send, str(tmp_path / "missing.pdf"))
    assert "missing.pdf: no such file" in assert_one_line_failure(code, out, "missing file")
    code, out = await docex(*send, str(tmp_path))
    assert "is a folder" in assert_one_line_failure(code, out, "a folder")

    word = tmp_path / "notice.docx"
    word.write_bytes(b"PK\x03\x04 not really a docx")
    code, out = await docex(*send, str(word), "--format", "docx")
    assert code == 1 and not _REPR.search(out), out
    assert out.strip().splitlines()[-1].startswith("rejected: format_not_allowed"), out
    code, out = await docex(*send, str(word), "--format", "docx", env={"LANG": "zh_CN.UTF-8"})
    assert code == 1, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("被拒绝：交换系统不接收这种文件格式："), out
