"""What the operating system and the libraries say reaches a clerk or an operator in their
language: a missing or broken file, a broker that refuses or cannot be found, PostgreSQL that
refuses, rabbitmqctl not installed, a broken hot-folder sidecar, the seal ceremonies' help.
Under LANG=zh_CN.UTF-8 each answer is Chinese with no English sentence left in it; under
LANG=C it is English."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Pki, UnitConfigWriter, write_router_config

CHINESE = {"LANG": "zh_CN.UTF-8"}
ENGLISH = {"LANG": "C.UTF-8"}
# Four or more English words in a row: a sentence nobody translated.
_ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'()]+[A-Za-z]{2,}){3,}")
# Commands to type, paths and quoted names are not sentences.
_NOT_PROSE = re.compile(r"`[^`]*`|\S*/\S*|'[^']*'|\"[^\"]*\"")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def run(env: dict[str, str], *args: object, path: str | None = None) -> tuple[int, str]:
    settings = {**os.environ, "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", **env}
    if path is not None:
        settings["PATH"] = path
    done = subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=60, env=settings
    )
    return done.returncode, done.stdout + done.stderr


def docex(env: dict[str, str], *args: object, path: str | None = None) -> tuple[int, str]:
    return run(env, "-m", "docex.cli", *args, path=path)


def untranslated(text: str) -> list[str]:
    return _ENGLISH_RUN.findall(_NOT_PROSE.sub(" ", text))


def in_both_languages(
    command: tuple[object, ...], english: str, chinese: str, path: str | None = None
) -> None:
    """Fails unless the command's answer is Chinese under zh_CN (with `chinese` in it and no
    English sentence) and English under C (with `english` in it)."""
    code, out = docex(CHINESE, *command, path=path)
    assert code != 0 and chinese in out, out
    assert _HAN.search(out) and not untranslated(out), (untranslated(out), out)
    code, out = docex(ENGLISH, *command, path=path)
    assert code != 0 and english in out, out
    assert not _HAN.search(out.replace(str(command), "")), out


def test_a_config_file_tomllib_cannot_parse(tmp_path: Path) -> None:
    broken = tmp_path / "router.toml"
    broken.write_text('[router]\nprefix = "x"\nledger = \n')
    in_both_languages(
        ("config", "check", broken),
        f"{broken} line 3, column 10: not valid TOML: a value is not valid",
        f"配置文件 {broken} 第 3 行第 10 列：TOML 格式错误：值无效",
    )


def test_a_missing_or_unreadable_settings_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    in_both_languages(
        ("unit", "--config", missing, "units"),
        f"{missing}: no such file or folder; check the name",
        f"{missing}：文件或文件夹不存在；请检查名称",
    )
    in_both_languages(
        ("unit", "--config", tmp_path, "units"),
        f"{tmp_path}: is a folder, not a file",
        f"{tmp_path}：是文件夹而不是文件",
    )


def test_a_broker_that_refuses_or_cannot_be_found(
    unit_config: UnitConfigWriter, tmp_path: Path
) -> None:
    good = unit_config("finance").read_text()
    refused = tmp_path / "refused.toml"
    refused.write_text(re.sub(r"@127\.0\.0\.1:\d+/", "@127.0.0.1:1/", good, count=1))
    in_both_languages(
        ("unit", "--config", refused, "units"),
        "(connection refused)",
        "（连接被拒绝）",
    )
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(re.sub(r"@127\.0\.0\.1:", "@no-such-host.invalid:", good, count=1))
    in_both_languages(
        ("unit", "--config", unknown, "units"),
        "cannot find the host 'no-such-host.invalid'",
        "no-such-host.invalid",
    )


def test_postgresql_that_refuses_the_connection(prefix: str, pki: Pki, tmp_path: Path) -> None:
    config = write_router_config(
        tmp_path / "router.toml", prefix, pki, "postgresql://docex@127.0.0.1:1/nothing"
    )
    in_both_languages(
        ("audit", "verify", "--config", config),
        "PostgreSQL at 127.0.0.1:1/nothing refused the connection",
        "127.0.0.1:1/nothing 的 PostgreSQL 拒绝连接",
    )


def test_router_run_and_provision_at_start(config_file: Path, tmp_path: Path) -> None:
    """`docex router run` with no ledger yet; `docex units provision` without rabbitmqctl."""
    lost = tmp_path / "lost.toml"
    lost.write_text(
        re.sub(
            r'ledger = "[^"]*"', f'ledger = "{tmp_path / "lost.sqlite"}"', config_file.read_text()
        )
    )
    in_both_languages(
        ("router", "run", "--config", lost),
        "cannot start the router: router.ledger:",
        "无法启动交换系统：router.ledger: ",
    )
    no_tools = str(tmp_path / "empty-path")
    in_both_languages(
        ("units", "provision", "--config", config_file, "--password-dir", tmp_path / "pw"),
        "rabbitmqctl is not installed on this machine",
        "本机没有安装 rabbitmqctl",
        path=no_tools,
    )


@pytest.mark.parametrize(
    ("sidecar", "english", "chinese"),
    [
        ('to = ["finance"\n', "x.pdf.toml: not valid TOML: a list", "配置文件 x.pdf.toml 末尾"),
        (
            'to = ["finance"]\ntitle = "t"\ndoc_no = "n"\nclassification = "pubilc"\n',
            "classification: not one of the allowed values: 'pubilc'",
            "classification: 不是允许的取值：'pubilc'",
        ),
        (
            'to = ["finance"]\ntitle = "t"\nclassification = "public"\n',
            "doc_no: missing required field",
            "doc_no: 缺少必填项",
        ),
    ],
)
def test_the_hot_folders_note_on_a_broken_sidecar(sidecar: str, english: str, chinese: str) -> None:
    """The rejected/ note of a drop whose sidecar is broken, as the adapter writes it."""
    note = (
        "from docex.adapters.hotfolder.sidecar import DropError, parse_sidecar\n"
        "import sys\n"
        "try:\n"
        "    parse_sidecar(sys.argv[1], 'x.pdf.toml')\n"
        "except DropError as error:\n"
        "    print(f'{error.code}: {error.message}')\n"
    )
    code, out = run(CHINESE, "-c", note, sidecar)
    assert code == 0 and out.startswith("invalid_sidecar: ") and chinese in out, out
    assert not untranslated(out.removeprefix("invalid_sidecar: ")), out
    code, out = run(ENGLISH, "-c", note, sidecar)
    assert code == 0 and english in out, out


def test_the_seal_ceremonies_help() -> None:
    code, out = docex(CHINESE, "seal", "ca-reshare", "--help")
    assert code == 0 and "此后的仪式一律拒绝旧分片" in out and "第二十一条" in out, out
    code, out = docex(ENGLISH, "seal", "ca-reshare", "--help")
    assert code == 0 and "Every later ceremony refuses the old shares" in out, out
