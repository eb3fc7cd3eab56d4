"""No silent new ledger: the router starts only on a ledger an operator made on purpose, and
`docex config check` names everything the router would trip over as it starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from docex.config import load_config
from docex.ledger import lock
from docex.ledger.open import LedgerMissing
from docex.router.service import Router


def docex(*args: object) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "docex.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def ledger(config_file: Path) -> Path:
    """The config's ledger, taken away: as on a disk that was not mounted."""
    path = Path(load_config(config_file).router.ledger)
    path.unlink()
    return path


def test_the_router_refuses_a_missing_ledger_and_says_how_to_make_one(
    config_file: Path, ledger: Path
) -> None:
    code, output = docex("router", "run", "--config", config_file)
    assert code == 2
    [line] = output.splitlines()
    assert str(ledger) in line and f"docex ledger init --config {config_file}" in line, line
    assert not ledger.exists()
    with pytest.raises(LedgerMissing):
        Router(load_config(config_file))
    assert not ledger.exists()


def test_ledger_init_makes_it_once(config_file: Path, ledger: Path) -> None:
    assert docex("ledger", "init", "--config", config_file) == (
        0,
        f"created an empty ledger at {ledger}\n",
    )
    Router(load_config(config_file)).ledger.close()
    code, output = docex("ledger", "init", "--config", config_file)
    assert (code, output) == (
        2,
        f"error: a ledger already exists at {ledger}; nothing was changed\n",
    )


def test_a_first_start_may_make_the_ledger_when_asked(config_file: Path, ledger: Path) -> None:
    Router(load_config(config_file), create_ledger=True).ledger.close()
    assert ledger.is_file()


def test_config_check_names_every_startup_problem_at_once(
    config_file: Path, ledger: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.write_text("a file where the paper notices' folder should be")
    text = (
        config_file.read_text()
        .replace("[links]\n", f'[links]\nspool_dir = "{spool}"\n')
        .replace("exchange.carrier", "missing.carrier")
    )
    config_file.write_text(text)
    code, output = docex("config", "check", config_file)
    assert code == 2
    lines = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 3, output
    assert f"router.ledger: {ledger}: no ledger there; `docex ledger init" in lines[0]
    assert f"links.spool_dir: {spool} is not a folder" in lines[1]
    assert "router.seal_carrier: " in lines[2] and "missing.carrier" in lines[2]
    assert "no such file or folder" in lines[2]


def test_a_backup_never_overwrites_and_restore_takes_only_a_ledger(
    config_file: Path, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("something else")
    code, output = docex("ledger", "backup", "--config", config_file, taken)
    assert (code, output) == (2, f"error: {taken} exists; give a new file name for the backup\n")
    code, output = docex("ledger", "restore", "--config", config_file, taken)
    assert code == 2 and f"{taken} is not a ledger backup" in output, output


def test_restore_refuses_while_a_router_holds_the_ledger(config_file: Path, tmp_path: Path) -> None:
    ledger = Path(load_config(config_file).router.ledger)
    assert docex("ledger", "backup", "--config", config_file, tmp_path / "b.sqlite")[0] == 0
    before = ledger.read_bytes()
    with lock.held(ledger):
        code, output = docex("ledger", "restore", "--config", config_file, tmp_path / "b.sqlite")
    assert code == 2 and "is in use by another router" in output, output
    assert ledger.read_bytes() == before
    assert not list(tmp_path.glob("*before-restore*"))
    # A backup is one file, read without growing -wal and -shm files beside it.
    assert list(tmp_path.glob("b.sqlite*")) == [tmp_path / "b.sqlite"]
    assert (tmp_path / "b.sqlite").stat().st_mode & 0o777 == 0o600
