"""`docex config check` for the files of a unit's programs: the unit's settings, the hot
folder's and the bridge's. Each problem is one line naming the file, the key and its line;
all of them in one run, and the files the program would fail to open or write as it starts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yarl

from docex.adapters.hotfolder.settings import SettingsFile as HotFolderFile
from docex.adapters.mqtt.settings import SettingsFile as BridgeFile
from docex.config_lines import line_of
from docex.config_shape import shape_problems
from docex.i18n import _
from docex.ids import ID_RULE, is_safe_id
from docex.unit.settings import UnitSettings
from docex.writable import blocked_by

KINDS = ("router", "unit", "hotfolder", "mqtt")
_SHAPES: dict[str, type] = {"unit": UnitSettings, "hotfolder": HotFolderFile, "mqtt": BridgeFile}


def kind_of(data: dict[str, Any]) -> str | None:
    """Which program's file this is, by the keys only that program's file has."""
    if "router" in data:
        return "router"
    if "folder" in data or "journal" in data:
        return "hotfolder"
    if "unit_settings" in data:
        return "mqtt"
    if "unit" in data or "amqp_url" in data:
        return "unit"
    return None


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and the table; OSError or ValueError (tomllib's) for the caller to report."""
    text = path.read_text()
    return text, tomllib.loads(text)


def settings_problems(path: Path, kind: str, *, opens_seals: bool = True) -> list[str]:
    """Every problem of a unit, hot folder or bridge settings file (and of the unit's file
    it names), each `FILE: line N: key: problem`. `opens_seals=False`: the unit's seal
    carriers are not needed (the bridge's unit: the office system seals what it sends)."""
    try:
        text, data = read_toml(path)
    except OSError as exc:
        return [_("{path}: cannot read: {reason}").format(path=path, reason=exc.strerror)]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [_("{path}: not valid TOML: {error}").format(path=path, error=exc)]
    # Keys of the wrong shape are dropped, and what remains is checked on.
    shape, data = shape_problems(data, _SHAPES[kind])
    problems = [_at(path, text, where, message) for where, message in shape]
    base = path.parent.resolve()
    if kind == "unit":
        return problems + _unit_problems(path, text, data, base, opens_seals=opens_seals)
    if "unit_settings" in data:
        unit_file = base / data["unit_settings"]
        problems += settings_problems(unit_file, "unit", opens_seals=kind == "hotfolder")
    if kind == "hotfolder":
        for key in ("folder", "journal"):
            if key in data:
                folder = _parent_if(base / data[key], key == "journal")
                problems += _writable(path, text, key, folder)
        if data.get("seal_password_file"):
            problems += _readable(
                path, text, "seal_password_file", base / data["seal_password_file"]
            )
        if data.get("poll_interval_ms", 1) <= 0:
            problems.append(_at(path, text, ("poll_interval_ms",), _("must be positive")))
    if kind == "mqtt":
        password_file = data.get("mqtt", {}).get("password_file")
        if password_file:
            problems += _readable(path, text, "mqtt.password_file", base / password_file)
    return problems


def _unit_problems(
    path: Path, text: str, data: dict[str, Any], base: Path, *, opens_seals: bool
) -> list[str]:
    problems = []
    if "unit" in data and not is_safe_id(data["unit"]):
        problems.append(
            _at(
                path,
                text,
                ("unit",),
                _("{id!r} is not an id: {rule}").format(id=data["unit"], rule=ID_RULE),
            )
        )
    url = yarl.URL(data["amqp_url"]) if "amqp_url" in data else None
    if url is not None and (url.scheme not in ("amqp", "amqps") or not url.host or not url.user):
        problems.append(
            _at(path, text, ("amqp_url",), _("must be amqp://UNIT-USER:PASSWORD@HOST:PORT/"))
        )
    seals = ("seal_carrier", "verification_carrier") if opens_seals else ()
    for key in (*seals, "ca_certificate", "revocation_list"):
        if data.get(key):
            problems += _readable(path, text, key, base / data[key])
    if "mailbox" in data:
        problems += _writable(path, text, "mailbox", (base / data["mailbox"]).parent)
    return problems


def _parent_if(path: Path, is_file: bool) -> Path:
    return path.parent if is_file else path


def _readable(path: Path, text: str, key: str, file: Path) -> list[str]:
    try:
        with open(file, "rb"):
            return []
    except OSError as exc:
        return [
            _at(
                path,
                text,
                tuple(key.split(".")),
                _("cannot read {file}: {reason}").format(file=file, reason=exc.strerror),
            )
        ]


def _writable(path: Path, text: str, key: str, folder: Path) -> list[str]:
    blocker = blocked_by(folder)
    if blocker is None:
        return []
    return [
        _at(
            path,
            text,
            (key,),
            _("cannot write in {folder}: {blocker} is not a writable folder").format(
                folder=folder, blocker=blocker
            ),
        )
    ]


def _at(path: Path, text: str, where: tuple[str | int, ...], message: str) -> str:
    dotted = ".".join(str(part) for part in where)
    line = line_of(text, where)
    if line:
        return _("{path}: line {line}: {key}: {problem}").format(
            path=path, line=line, key=dotted, problem=message
        )
    return _("{path}: {key}: {problem}").format(path=path, key=dotted, problem=message)
