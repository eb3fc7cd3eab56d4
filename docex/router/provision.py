"""Broker accounts for units (§13–§15): one AMQP user per unit, allowed only its own traffic.

A unit may configure nothing, write only to its own inbound exchange, and read only its own
queue; the broker then vouches for `user_id`, which is how the router knows who sent what, and
no unit can put anything into another unit's intake queue (docex/topology.py). A unit that
leaves the exchange (§9(二)(三)) keeps its user, whose name the ledger's records carry, but
loses every permission: it can no longer log in to the exchange's vhost, read or write.
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

from docex.config import Config, Unit
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
    except subprocess.TimeoutExpired as exc:
        raise ProvisionError(f"rabbitmqctl {args[0]} did not answer within 60 s") from exc
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


def _vhost(config: Config) -> str:
    return yarl.URL(config.router.amqp_url).path.lstrip("/") or "/"


def revoke(config: Config, unit: Unit, rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL) -> None:
    """§9(二)(三): the unit's user may no longer use the vhost, and is disconnected now: a
    permission taken away does not end a connection already open."""
    _rabbitmqctl(rabbitmqctl, "clear_permissions", "-p", _vhost(config), unit.amqp_user)
    _rabbitmqctl(
        rabbitmqctl,
        "close_all_user_connections",
        unit.amqp_user,
        f"unit {unit.id} left the exchange (§9)",
    )


def provision(
    config: Config, password_dir: Path, rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL
) -> list[str]:
    names = Names(config.router.prefix)
    vhost = _vhost(config)
    listed = json.loads(_rabbitmqctl(rabbitmqctl, "list_users", "--formatter", "json"))
    existing = {user["user"] for user in listed}
    report = []
    for unit in config.units:
        if unit.status != "active":
            if unit.amqp_user in existing:
                revoke(config, unit, rabbitmqctl)
                report.append(f"{unit.id}: {unit.status}; user {unit.amqp_user} may do nothing")
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
