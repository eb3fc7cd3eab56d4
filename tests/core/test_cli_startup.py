"""`docex --help` and `docex --version` answer without a config, a broker or a ledger."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version


def docex(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docex.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_names_every_command_group() -> None:
    result = docex("--help")

    assert result.returncode == 0, result.stderr
    for group in ("router", "units", "config", "notices", "report", "unit", "adapter", "seal"):
        assert f"    {group} " in result.stdout


def test_version_is_the_installed_one() -> None:
    result = docex("--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"docex {version('docex')}\n"
