"""`docex units provision` run again and again (§15): existing units keep their passwords."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest

from docex.config import Config, load_config
from docex.router.provision import FILES_PER_UNIT, ProvisionError, provision
from docex.topology import Names, declare
from tests import brokers
from tests.conftest import Pki, private_broker, write_router_config


def authenticates(user: str, password: str) -> bool:
    done = subprocess.run(
        ["rabbitmqctl", "--quiet", "authenticate_user", user, password], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def accounts(prefix: str, pki: Pki, tmp_path: Path) -> Iterator[tuple[Path, Config]]:
    """A config whose unit users are this test's own, deleted afterwards."""
    path = write_router_config(tmp_path / "router.toml", f"{prefix}p", pki, tmp_path / "l.sqlite")
    config = load_config(path)
    yield path, config
    for unit in config.units:
        subprocess.run(
            ["rabbitmqctl", "--quiet", "delete_user", unit.amqp_user], capture_output=True
        )


def provision_cli(config_file: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "docex.cli",
            "units",
            "provision",
            "--config",
            str(config_file),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_provisioning_again_keeps_passwords_and_rotate_replaces_them(
    accounts: tuple[Path, Config], tmp_path: Path
) -> None:
    config_file, config = accounts
    passwords = tmp_path / "passwords"
    first = provision(config, passwords)
    assert [o.action for o in first] == ["created"] * 3
    user = first[1].user
    original = (passwords / "finance.password").read_text()

    again = provision(config, passwords)
    assert [(o.action, o.problem) for o in again] == [("kept", "")] * 3
    assert (passwords / "finance.password").read_text() == original
    assert authenticates(user, original)

    status, output = provision_cli(config_file, "--password-dir", str(passwords), "--rotate")
    assert status == 0, output
    assert f"finance: user {user} rotated; permissions set: write " in output
    rotated = (passwords / "finance.password").read_text()
    assert rotated != original
    assert authenticates(user, rotated) and not authenticates(user, original)
    assert (passwords / "finance.password").stat().st_mode & 0o777 == 0o600


def test_another_password_dir_changes_no_password_and_says_how_to_fix_it(
    accounts: tuple[Path, Config], tmp_path: Path
) -> None:
    config_file, config = accounts
    provision(config, tmp_path / "passwords")
    password = (tmp_path / "passwords" / "finance.password").read_text()
    other = tmp_path / "other"

    status, output = provision_cli(config_file, "--password-dir", str(other))
    assert status == 1
    assert f"PROBLEM: no password file {other / 'finance.password'}" in output
    assert "--rotate" in output
    assert not (other / "finance.password").exists()
    assert authenticates(config.units[1].amqp_user, password)

    other.mkdir(exist_ok=True)
    (other / "finance.password").write_text("not-it")
    status, output = provision_cli(config_file, "--password-dir", str(other))
    assert status == 1
    assert "is not the broker's password for" in output
    assert authenticates(config.units[1].amqp_user, password)


def test_the_node_is_named_and_a_wrong_one_is_one_line(accounts: tuple[Path, Config]) -> None:
    config_file, _ = accounts
    status, output = provision_cli(
        config_file, "--password-dir", "unused", "--node", "nosuch@localhost"
    )
    assert status == 2
    assert output.startswith("broker node: nosuch@localhost\nerror: rabbitmqctl status on node")
    assert len(output.strip().splitlines()) == 2


@pytest.mark.slow
def test_a_node_with_too_few_files_for_the_units_is_refused_before_any_change(
    prefix: str, pki: Pki, tmp_path: Path
) -> None:
    """A node out of files accepts connections and never answers them: at 1,024 open files a
    node with 500 units stood still for every unit. Provisioning, where units are added, stops
    first: on a node started with 400 files the tests' units are provisioned; with
    40 more, nothing is, and the line says what the node may open and what to raise."""
    with brokers.running(1, open_files=400) as rabbit:
        node = private_broker(rabbit)
        path = write_router_config(
            tmp_path / "router.toml", f"{prefix}f", pki, tmp_path / "l.sqlite", node.address
        )
        outcomes = provision(load_config(path), tmp_path / "pw", rabbitmqctl=node.rabbitmqctl)
        assert [(o.action, o.problem) for o in outcomes] == [("created", "")] * 3, outcomes
        users_before = rabbit.ctl(0, "list_users", "--quiet", "--no-table-headers")

        path.write_text(
            path.read_text()
            + "".join(
                f'[[units]]\nid = "extra{n:02d}"\nname = "新增单位{n:02d}"\n'
                f'amqp_user = "{prefix}f-extra{n:02d}"\n\n'
                for n in range(40)
            )
        )
        with pytest.raises(ProvisionError) as refused:
            provision(load_config(path), tmp_path / "pw", rabbitmqctl=node.rabbitmqctl)
        [line] = str(refused.value).splitlines()
        assert "may open 3" in line and "44 units need about 511" in line, line
        assert "LimitNOFILE" in line and "nothing was changed" in line, line
        assert rabbit.ctl(0, "list_users", "--quiet", "--no-table-headers") == users_before


@pytest.mark.slow
async def test_the_estimate_counts_every_file_the_node_takes_for_a_unit(prefix: str) -> None:
    """The refusal above is only as good as its count of a unit's files. Measured on a node of
    the kind the exchange runs on: declaring 30 units' queues and opening a connection for
    each takes no more files from the node's limit than the estimate counts for 30 units."""
    with brokers.running(1) as rabbit:
        node = rabbit.nodes[0]

        def files_used() -> int:
            status = json.loads(rabbit.ctl(0, "status", "--formatter", "json"))
            return int(status["file_descriptors"]["total_used"])

        names = Names(prefix)
        units = [f"u{n:02d}" for n in range(30)]
        first = await aio_pika.connect(node.url)
        others: list[aio_pika.abc.AbstractConnection] = []
        try:
            await declare(first, names, [], intake_limit=100)
            before = files_used()
            await declare(first, names, units, intake_limit=100)
            others = [await aio_pika.connect(node.url) for _ in units[1:]]
            taken = files_used() - before
        finally:
            for connection in [first, *others]:
                await connection.close()
        # Two quorum queues a unit (RabbitMQ reserves files for each) and a connection.
        assert 2 * len(units) < taken <= FILES_PER_UNIT * len(units), taken
