"""`docex board` as operators run it: its own process on the router's ledger, read-only; a bad
invocation is one line and exit status 2; SIGTERM stops it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from docex.board.app import CONTENT_SECURITY_POLICY
from docex.ledger.errors import LedgerError
from docex.ledger.open import open_ledger
from tests.board.conftest import OFFICE_DN, as_nginx_writes_it


def board(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docex.cli", "board", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def get(url: str, subject: str | None) -> tuple[int, str, str]:
    """Status, body and Content-Security-Policy."""
    headers = (
        {}
        if subject is None
        else {
            "X-Client-Verified": "SUCCESS",
            "X-Client-DN": as_nginx_writes_it(subject),
        }
    )
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as got:
            return got.status, got.read().decode(), got.headers["Content-Security-Policy"]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers["Content-Security-Policy"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bad_invocations_are_one_line_each(config_file: Path, tmp_path: Path) -> None:
    done = board("--config", str(config_file), "--listen", "8480")
    assert (done.returncode, done.stderr) == (2, "error: --listen '8480' is not HOST:PORT\n")
    (tmp_path / "ledger.sqlite").unlink()  # made with the config, as `docex ledger init` would
    done = board("--config", str(config_file))
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read the ledger ")
    assert done.stderr.count("\n") == 1
    bare = tmp_path / "bare.toml"
    bare.write_text(config_file.read_text().split("[board]")[0])
    done = board("--config", str(bare))
    assert done.returncode == 2
    assert "[board] subjects names no certificate subject" in done.stderr
    assert done.stderr.count("\n") == 1
    done = board("--config", str(tmp_path / "missing.toml"))
    assert done.returncode == 2 and "missing.toml: no such file or folder" in done.stderr


def test_it_serves_the_ledger_read_only_until_sigterm(config_file: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    open_ledger(ledger).close()
    before = ledger.read_bytes()
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "docex.cli",
            "board",
            "--config",
            str(config_file),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, page, policy = get(f"http://127.0.0.1:{port}/documents", OFFICE_DN)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"the board did not answer: {process.communicate()}")
                time.sleep(0.05)  # polling a port that has no event to wait on
        assert status == 200 and "没有符合条件的公文" in page
        assert policy == CONTENT_SECURITY_POLICY and "default-src 'none'" in policy
        status, page, policy = get(f"http://127.0.0.1:{port}/documents", None)
        assert status == 403 and "未通过客户端证书认证" in page
        assert policy == CONTENT_SECURITY_POLICY
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "board_view" in stderr and "board_refused" in stderr
    assert ledger.read_bytes() == before


def test_its_ledger_connection_cannot_write(config_file: Path, tmp_path: Path) -> None:
    """The same read-only opening the board uses refuses every write."""
    path = tmp_path / "ledger.sqlite"
    open_ledger(path).close()
    reader = open_ledger(path, read_only=True)
    try:
        with pytest.raises(LedgerError, match="readonly"), reader.transaction():
            reader.record_liveness("2026-11-26T10:00:00.000+08:00")
    finally:
        reader.close()
