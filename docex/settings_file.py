"""Reading the settings files of a unit's programs (`docex unit`, the bridge, the hot folder):
TOML checked against its struct, each problem one line that names the file; secrets from a
file the settings name, else from the environment, never from the settings file itself."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TypeVar

import msgspec

from docex.config_shape import msgspec_problem
from docex.error_text import file_problem, toml_problem

T = TypeVar("T")


class SettingsError(Exception):
    pass


def read_settings(path: Path, shape: type[T]) -> T:
    try:
        return msgspec.convert(tomllib.loads(path.read_text()), shape)
    except OSError as exc:
        raise SettingsError(file_problem(exc, path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(toml_problem(path, exc)) from exc
    except msgspec.ValidationError as exc:
        _message, _at, at = str(exc).partition(" - at `")
        where = f" ({at.rstrip('`')})" if at else ""
        raise SettingsError(f"{path}{where}: {msgspec_problem(str(exc))}") from exc


def read_secret(file: Path | None, env: str) -> str | None:
    """The secret in `file` (its last newline dropped) if one is named, else $`env`, else None."""
    if file is not None:
        try:
            return file.read_text().rstrip("\n")
        except OSError as exc:
            raise SettingsError(file_problem(exc, file)) from exc
    return os.environ.get(env)
