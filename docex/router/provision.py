"""Broker accounts for units (§13–§15): one AMQP user per unit, allowed only its own traffic.

A unit may configure nothing, write only to its own inbound exchange, and read only its own
queue; the broker then vouches for `user_id`, which is how the router knows who sent what, and
no unit can put anything into another unit's intake queue (docex/topology.py). A unit that
leaves the exchange (§9(二)(三)) keeps its user, whose name the ledger's records carry, but
loses every permission: it can no longer log in to the exchange's vhost, read or write.

Running it again is safe: a unit already on the broker keeps its password, because its adapters
and office systems are logging in with it. Only `rotate=True` sets new ones. The broker is
administered with `rabbitmqctl` on the node named (`--node`, or `[router] broker_node`), so
which broker is changed is never a guess.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yarl

from docex.config import Config, Unit
from docex.i18n import N_, _
from docex.topology import Names


class ProvisionError(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    """What provisioning did for one unit; `problem` is set when the operator must act."""

    unit: str
    user: str
    action: str  # created, kept, rotated
    permissions: str
    problem: str = ""

    def line(self) -> str:
        """In the operator's language; the words of `action` and `permissions` too."""
        action = _(_ACTIONS[self.action]) if self.action in _ACTIONS else self.action
        text = _("{unit}: user {user} {action}; permissions set: {permissions}").format(
            unit=self.unit, user=self.user, action=action, permissions=self.permissions
        )
        if not self.problem:
            return text
        return _("{line}; PROBLEM: {problem}").format(line=text, problem=self.problem)


_ACTIONS = {
    "created": N_("created"),
    "kept": N_("kept"),
    "rotated": N_("rotated"),
    "revoked": N_("revoked"),
}


# The broker this machine runs; tests pass the command for a private node instead.
SYSTEM_RABBITMQCTL = ("rabbitmqctl",)


class _Broker:
    def __init__(self, node: str, rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL) -> None:
        self.node = node
        self.rabbitmqctl = rabbitmqctl

    def run(
        self, *args: str, check: bool = True, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`password` goes on stdin, which rabbitmqctl reads when the argument is left out:
        a command line is readable by every user of the machine (ps)."""
        node = ["--node", self.node] if self.node else []
        try:
            done = subprocess.run(
                [*self.rabbitmqctl, *node, "--quiet", *args],
                input=None if password is None else password + "\n",
                capture_output=True,
                text=True,
                timeout=60,
            )
        except FileNotFoundError as exc:
            raise ProvisionError(
                _("{program} is not installed on this machine; install RabbitMQ's tools").format(
                    program=self.rabbitmqctl[0]
                )
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ProvisionError(
                _("rabbitmqctl {command} did not answer within 60 s: is the node up?").format(
                    command=args[0]
                )
            ) from exc
        if check and done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if line.strip()), "")
            raise ProvisionError(
                _("rabbitmqctl {command} on node {node} failed: {output}").format(
                    command=args[0], node=self.node or _("(default)"), output=first.strip()
                )
            )
        return done

    def file_limit(self) -> int | None:
        """How many files the node may open, as it says; None when it does not say."""
        try:
            status = json.loads(self.run("status", "--formatter", "json").stdout)
            return int(status["file_descriptors"]["total_limit"])
        except (ValueError, KeyError, TypeError):
            return None

    def users(self) -> set[str]:
        listed = json.loads(self.run("list_users", "--formatter", "json").stdout)
        return {user["user"] for user in listed}

    def authenticates(self, user: str, password: str) -> bool:
        return self.run("authenticate_user", user, password=password, check=False).returncode == 0


# What RabbitMQ 3.10 takes from a node's open-files limit for one unit: three file handles
# for each quorum queue, reserved as the queue is declared (the unit's intake queue and its own
# queue), and one for the unit's connection. `rabbitmqctl status` counted 6 more files in use for
# every unit declared, at 50, 100 and 120 units alike, and 1 for every connection.
_FILES_PER_QUEUE = 3
FILES_PER_UNIT = 2 * _FILES_PER_QUEUE + 1
# The exchange's dead-letter queue.
_EXCHANGE_FILES = _FILES_PER_QUEUE
# Files a node needs beside the exchange's: its own, the router's and the operators'.
_SPARE_FILES = 200


def files_needed(units: int) -> int:
    """The files a broker holds for an exchange of this many units, with some to spare."""
    return FILES_PER_UNIT * units + _EXCHANGE_FILES + _SPARE_FILES


def too_few_files(node: str, units: int, limit: int | None) -> str | None:
    """Why the node cannot take this exchange, or None. A node out of files accepts
    connections and never answers them, `rabbitmqctl` included: no log line, no alarm, every
    unit cut off at once. Provisioning is where a growing exchange gets its new units, so it
    is the place to stop before the broker does."""
    needed = files_needed(units)
    if limit is None or limit >= needed:
        return None
    return _(
        "RabbitMQ node {node} may open {limit} files and the exchange's {units} units need"
        " about {needed} (two queues and a connection a unit): raise the node's open-files"
        " limit (LimitNOFILE=65536 in the rabbitmq-server systemd unit, as Debian's has), restart"
        " it, and provision again; nothing was changed"
    ).format(node=node or _("(default)"), limit=limit, units=units, needed=needed)


def node_file_limit(node: str = "", rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL) -> int | None:
    """How many files the node may open, as it says (rabbitmqctl's default node: this
    machine's); None when it does not say. ProvisionError when rabbitmqctl cannot ask it."""
    return _Broker(node, rabbitmqctl).file_limit()


def _password_path(password_dir: Path, unit_id: str) -> Path:
    return password_dir / f"{unit_id}.password"


def unit_password(password_dir: Path, unit_id: str) -> str:
    """The unit's broker password, made on first use and kept readable by its owner only."""
    path = _password_path(password_dir, unit_id)
    if not path.exists():
        _write_password(path, _new_password())
    return path.read_text().strip()


def _new_password() -> str:
    return secrets.token_hex(24)


def _write_password(path: Path, password: str) -> None:
    """Written beside its place and renamed in, so a file is never half a password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(password)
    partial.replace(path)


def _vhost(config: Config) -> str:
    return yarl.URL(config.router.amqp_url).path.lstrip("/") or "/"


def revoke(config: Config, unit: Unit, rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL) -> None:
    """§9(二)(三): the unit's user may no longer use the vhost, and is disconnected now: a
    permission taken away does not end a connection already open."""
    _revoke(_Broker(config.router.broker_node, rabbitmqctl), config, unit)


def _revoke(broker: _Broker, config: Config, unit: Unit) -> None:
    broker.run("clear_permissions", "-p", _vhost(config), unit.amqp_user)
    broker.run(
        "close_all_user_connections", unit.amqp_user, f"unit {unit.id} left the exchange (§9)"
    )


def provision(
    config: Config,
    password_dir: Path,
    *,
    node: str | None = None,
    rotate: bool = False,
    rabbitmqctl: Sequence[str] = SYSTEM_RABBITMQCTL,
) -> list[Outcome]:
    """Create missing unit users, keep (or with `rotate`, replace) existing users' passwords,
    set every active unit's permissions, and take them from revoked and merged units. `node`:
    the RabbitMQ node to administer; None takes `[router] broker_node` ("" there: rabbitmqctl's
    own default, the local node). ProvisionError, before any change, when the node has too
    few files for the exchange's units."""
    broker = _Broker(config.router.broker_node if node is None else node, rabbitmqctl)
    refusal = too_few_files(broker.node, len(config.units), broker.file_limit())
    if refusal is not None:
        raise ProvisionError(refusal)
    names = Names(config.router.prefix)
    vhost = _vhost(config)
    existing = broker.users()
    outcomes = []
    for unit in config.units:
        if unit.status != "active":
            if unit.amqp_user in existing:
                _revoke(broker, config, unit)
                outcomes.append(Outcome(unit.id, unit.amqp_user, unit.status, _("none")))
            continue
        action, problem = _account(broker, unit, password_dir, unit.amqp_user in existing, rotate)
        writes, reads = names.inbound(unit.id), names.unit_queue(unit.id)
        broker.run(
            "set_permissions",
            "-p",
            vhost,
            unit.amqp_user,
            "^$",
            f"^{re.escape(writes)}$",
            f"^{re.escape(reads)}$",
        )
        outcomes.append(
            Outcome(
                unit.id,
                unit.amqp_user,
                action,
                _("write {writes}, read {reads}").format(writes=writes, reads=reads),
                problem,
            )
        )
    return outcomes


def _account(
    broker: _Broker, unit: Unit, password_dir: Path, exists: bool, rotate: bool
) -> tuple[str, str]:
    path = _password_path(password_dir, unit.id)
    if not exists:
        broker.run("add_user", unit.amqp_user, password=unit_password(password_dir, unit.id))
        return "created", ""
    if rotate:
        password = _new_password()
        broker.run("change_password", unit.amqp_user, password=password)
        _write_password(path, password)
        return "rotated", ""
    if not path.exists():
        return "kept", _(
            "no password file {path}; the password is in the --password-dir it was first"
            " made with, or run again with --rotate to set a new one (and give it to the unit)"
        ).format(path=path)
    if not broker.authenticates(unit.amqp_user, path.read_text().strip()):
        return "kept", _(
            "{path} is not the broker's password for {user}; run again with"
            " --rotate to set it anew (and give it to the unit)"
        ).format(path=path, user=unit.amqp_user)
    return "kept", ""
