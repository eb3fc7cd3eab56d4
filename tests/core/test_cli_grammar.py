"""One grammar for every command: `--config` in any place, or $DOCEX_CONFIG; completion and
the man page come from the same parser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from docex.cli import parser
from docex.cli.options import CONFIG_ENV, resolve_config

PLACES = [
    ["--config", "u.toml", "unit", "status", "D"],
    ["unit", "--config", "u.toml", "status", "D"],
    ["unit", "status", "D", "--config", "u.toml"],
    ["--config", "u.toml", "router", "status"],
    ["router", "status", "--config", "u.toml"],
    ["report", "--period", "2026", "--out", "x", "--config", "u.toml"],
    ["notices", "list", "--config", "u.toml"],
]


@pytest.mark.parametrize("argv", PLACES, ids=[" ".join(argv) for argv in PLACES])
def test_config_is_taken_wherever_it_is_written(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    root = parser()
    args = root.parse_args(argv)
    resolve_config(root, args)
    assert args.config == Path("u.toml")


def test_the_environment_names_the_config_when_the_line_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CONFIG_ENV, "/etc/docex/finance.toml")
    root = parser()
    args = root.parse_args(["unit", "inbox"])
    resolve_config(root, args)
    assert args.config == Path("/etc/docex/finance.toml")


def test_bash_completion_knows_every_unit_verb() -> None:
    script = subprocess.run(
        [sys.executable, "-m", "docex.cli", "--print-completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for verb in ("send", "inbox", "print", "units", "quota-request", "withdraw"):
        assert verb in script


def test_help_and_usage_mistakes_are_chinese_under_a_chinese_locale() -> None:
    def run(lang: str, *argv: str) -> str:
        env = {**os.environ, "LANG": lang, "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
        done = subprocess.run(
            [sys.executable, "-m", "docex.cli", *argv], capture_output=True, text=True, env=env
        )
        return done.stdout + done.stderr

    chinese = run("zh_CN.UTF-8", "unit", "send", "--help")
    assert chinese.startswith("用法：docex unit send") and "主送单位：A,B" in chinese
    assert "缺少以下参数：--to" in run("zh_CN.UTF-8", "unit", "send", "x.pdf")
    assert "the following arguments are required: --to" in run("C.UTF-8", "unit", "send", "x.pdf")
