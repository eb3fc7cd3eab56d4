"""An operator reads the commands of the General Office in their language: the one-line
error of `docex config check`, `docex seal list` and `docex ledger init` is Chinese under
LANG=zh_CN.UTF-8 and English under LANG=C."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from docex.config import load_config

CHINESE = {"LANG": "zh_CN.UTF-8"}
ENGLISH = {"LANG": "C.UTF-8"}


def docex(env: dict[str, str], *args: object) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "docex.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", **env},
    )
    return done.returncode, done.stdout + done.stderr


def one_line(output: str) -> str:
    [line] = output.splitlines()
    return line


def test_config_check_of_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text("[router\n")
    code, out = docex(CHINESE, "config", "check", path)
    assert (code, one_line(out)) == (
        2,
        f"错误：配置文件 {path} 第 1 行第 8 列：TOML 格式错误：[表] 行缺少结尾的 ']'",
    )
    code, out = docex(ENGLISH, "config", "check", path)
    assert (code, one_line(out)) == (
        2,
        f"error: {path} line 1, column 8: not valid TOML: a [table] line is not closed with ']'",
    )


def test_config_check_names_each_problem_in_chinese(config_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text(config_file.read_text().replace("[router]", "[router]\nnot_a_key = 1", 1))
    code, out = docex(CHINESE, "config", "check", path)
    assert code == 2 and out.startswith(f"错误：{path}:"), out
    assert "未知的配置项 'not_a_key'" in out and "第 " in out, out
    code, out = docex(ENGLISH, "config", "check", path)
    assert code == 2 and "unknown key 'not_a_key'" in out, out


def test_seal_list_without_a_ca(tmp_path: Path) -> None:
    missing = tmp_path / "no-ca"
    code, out = docex(CHINESE, "seal", "list", "--ca-dir", missing)
    assert (code, one_line(out)) == (
        2,
        f"错误：ca_missing: 无法读取 CA 证书 {missing / 'ca.crt'}：文件或文件夹不存在",
    )
    code, out = docex(ENGLISH, "seal", "list", "--ca-dir", missing)
    assert (code, one_line(out)) == (
        2,
        f"error: ca_missing: cannot read CA certificate {missing / 'ca.crt'}:"
        " no such file or folder",
    )


def test_ledger_init_on_an_existing_ledger(config_file: Path) -> None:
    ledger = Path(load_config(config_file).router.ledger)
    docex(ENGLISH, "ledger", "init", "--config", config_file)
    assert ledger.exists()
    code, out = docex(CHINESE, "ledger", "init", "--config", config_file)
    assert (code, one_line(out)) == (2, f"错误：{ledger} 已有台账；未作任何改动")
    code, out = docex(ENGLISH, "ledger", "init", "--config", config_file)
    assert (code, one_line(out)) == (
        2,
        f"error: a ledger already exists at {ledger}; nothing was changed",
    )


def test_the_help_of_report_ledger_and_board_is_chinese() -> None:
    for command, words in (
        (["--help"], "按年或按月的各单位统计"),
        (["--help"], "交换系统的台账（账本）"),
        (["report", "--help"], "年份（2026）或月份（2026-03）"),
        (["ledger", "--help"], "建立 [router] ledger 所指的空台账"),
        (["board", "--help"], "主机:端口"),
        (["seal", "--help"], "签发过的全部印章及其状态"),
    ):
        code, out = docex(CHINESE, *command)
        assert code == 0 and words in out, out
        code, out = docex(ENGLISH, *command)
        assert code == 0 and words not in out, out


def test_config_check_of_a_unit_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "unit.toml"
    path.write_text('unit = "finance"\namqp_url = "http://example.org/"\n')
    code, out = docex(CHINESE, "config", "check", "--kind", "unit", path)
    assert code == 2, out
    assert f"错误：{path}：amqp_url：须为 amqp://单位用户:口令@主机:端口/" in out, out
    assert f"错误：{path}：seal_carrier：缺少必填项 `seal_carrier`" in out, out
    code, out = docex(ENGLISH, "config", "check", "--kind", "unit", path)
    assert f"error: {path}: amqp_url: must be amqp://UNIT-USER:PASSWORD@HOST:PORT/" in out
