"""Broker accounts for units (§13–§15): one AMQP user per unit, allowed only its own traffic.

A unit may configure nothing, write only to its own inbound exchange, and read only its own
queue; the broker then vouches for `user_id`, which is how the router knows who sent what, and
no unit can put anything into another unit's intake queue (docex/topology.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Sequence
from pathlib import Path

import yarl

from docex.config import Config
from docex.topology import Names


class ProvisionError(Exception):
    pass


# The broker this machine runs; tests pass the command for a private node instead.
SYSTEM_RABBITMQCTL = ("rabbitmqctl",)


def _rabbitmqctl(rabbitmqctl: Sequence[str], *args: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            [*rabbitmqctl, "--quiet", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError as exc:
        raise ProvisionError(f"{rabbitmqctl[0]} is not installed on this machine") from exc
    if done.returncode != 0:
        raise ProvisionError(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def unit_password(password_dir: Path, unit_id: str) -> str:
    """The unit's broker password, made on first use and kept readable by its owner only."""
    path = password_dir / f"{unit_id}.password"
    if not path.exists():
        password_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(24))
    return path.read_text().strip()


def provision(
    config: Config, password_dir: Path, rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL
) -> list[str]:
    names = Names(config.router.prefix)
    vhost = yarl.URL(config.router.amqp_url).path.lstrip("/") or "/"
    listed = json.loads(_rabbitmqctl(rabbitmqctl, "list_users", "--formatter", "json"))
    existing = {user["user"] for user in listed}
    report = []
    for unit in config.units:
        if unit.status != "active":
            continue
        # On stdin, which rabbitmqctl reads when the argument is left out: a command line
        # is readable by every user of the machine (ps).
        password = unit_password(password_dir, unit.id) + "\n"
        command = "change_password" if unit.amqp_user in existing else "add_user"
        _rabbitmqctl(rabbitmqctl, command, unit.amqp_user, stdin=password)
        _rabbitmqctl(
            rabbitmqctl,
            "set_permissions",
            "-p",
            vhost,
            unit.amqp_user,
            "^$",
            f"^{re.escape(names.inbound(unit.id))}$",
            f"^{re.escape(names.unit_queue(unit.id))}$",
        )
        report.append(
            f"{unit.id}: user {unit.amqp_user} may write {names.inbound(unit.id)},"
            f" read {names.unit_queue(unit.id)}"
        )
    return report
