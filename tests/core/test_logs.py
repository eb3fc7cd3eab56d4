"""Under journald every log line carries its priority, so `journalctl -p warning` shows the
warnings and errors and nothing else; elsewhere the lines stay plain JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LOG_THREE = (
    "from docex import logs; import structlog; logs.configure('debug');"
    " log = structlog.get_logger('t'); log.info('fine'); log.warning('odd'); log.error('bad')"
)


def logged(tmp_path: Path, journal: bool) -> list[str]:
    out = tmp_path / "stderr"
    with out.open("wb") as stderr:
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:
            status = os.fstat(stderr.fileno())
            env["JOURNAL_STREAM"] = f"{status.st_dev}:{status.st_ino}"
        subprocess.run([sys.executable, "-c", LOG_THREE], stderr=stderr, env=env, check=True)
    return out.read_text().splitlines()


def test_under_journald_each_line_starts_with_its_priority(tmp_path: Path) -> None:
    lines = logged(tmp_path, journal=True)
    assert [line[:3] for line in lines] == ["<6>", "<4>", "<3>"]
    assert [json.loads(line[3:])["event"] for line in lines] == ["fine", "odd", "bad"]


def test_elsewhere_the_lines_are_plain_json(tmp_path: Path) -> None:
    lines = logged(tmp_path, journal=False)
    assert [json.loads(line)["level"] for line in lines] == ["info", "warning", "error"]
