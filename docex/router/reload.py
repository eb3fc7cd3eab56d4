"""What changed between the running configuration and a new one (SIGHUP, DESIGN.md §6).

Units are compared by id: a new id is a new unit; the same id with a new name is a rename
(§9(一)); an active unit that becomes revoked, or disappears, has left the exchange
(§9(二)); a merge (§9(三)) is the merged units revoked with the surviving one as successor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from docex.config import Config, Unit

# Settings read once at start: a change is reported, and takes effect on the next restart.
_RESTART_SETTINGS = (
    "amqp_url",
    "amqp_urls",
    "prefix",
    "ledger",
    "prefetch",
    "intake_limit",
    "seal_carrier",
    "seal_password_file",
    "metrics_host",
    "metrics_port",
)


@dataclass(frozen=True)
class Change:
    added: list[Unit]
    renamed: list[tuple[Unit, Unit]]
    gone: list[Unit]
    restart_needed: list[str]


def compare(old: Config, new: Config) -> Change:
    before = {unit.id: unit for unit in old.units}
    after = {unit.id: unit for unit in new.units}
    added = [unit for unit_id, unit in after.items() if unit_id not in before]
    renamed = [
        (before[unit_id], unit)
        for unit_id, unit in after.items()
        if unit_id in before and before[unit_id].name != unit.name
    ]
    gone = [
        after.get(unit_id, unit)
        for unit_id, unit in before.items()
        if unit.status == "active" and (unit_id not in after or after[unit_id].status != "active")
    ]
    restart_needed = [
        f"router.{name}"
        for name in _RESTART_SETTINGS
        if getattr(old.router, name) != getattr(new.router, name)
    ]
    if old.seals.ca_certificate != new.seals.ca_certificate:
        restart_needed.append("seals.ca_certificate")
    if old.sms != new.sms:
        restart_needed.append("sms")
    return Change(added, renamed, gone, restart_needed)


@dataclass(frozen=True)
class LoadResult:
    """The last time the router read its config (at start, then at each SIGHUP): what an
    operator asks after `systemctl reload` (/readyz, `docex router status`, the metrics)."""

    kind: str  # "loaded" (at start) or "reloaded"
    at: datetime
    digest: str  # sha256 of the file as read, to compare with the file on disk
    errors: str = ""  # empty when the config was applied

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self) -> str:
        """One line, `config: …`: the operator's answer to "did my reload take?"."""
        when = self.at.isoformat(timespec="seconds")
        if self.ok:
            return f"config: {self.kind} at {when}, sha256 {self.digest}, ok"
        # A ConfigError is "FILE:" and then a problem a line: "FILE: one; two".
        lines = [line.strip() for line in self.errors.splitlines() if line.strip()]
        head = lines.pop(0) if len(lines) > 1 and lines[0].endswith(":") else ""
        errors = f"{head} {'; '.join(lines)}".strip()
        return (
            f"config: {self.kind} at {when} FAILED, sha256 {self.digest}: {errors};"
            " running on the config read before"
        )


def digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
