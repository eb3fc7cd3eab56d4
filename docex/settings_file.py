"""Reading the settings files of a unit's programs (`docex unit`, the bridge, the hot folder):
TOML checked against its struct, each problem one line that names the file; secrets from a
file the settings name, else from the environment, never from the settings file itself."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TypeVar

import msgspec

T = TypeVar("T")


class SettingsError(Exception):
    pass


def read_settings(path: Path, shape: type[T]) -> T:
    try:
        return msgspec.convert(tomllib.loads(path.read_text()), shape)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc


def read_secret(file: Path | None, env: str) -> str | None:
    """The secret in `file` (its last newline dropped) if one is named, else $`env`, else None."""
    if file is not None:
        try:
            return file.read_text().rstrip("\n")
        except OSError as exc:
            raise SettingsError(f"{file}: cannot read: {exc.strerror}") from exc
    return os.environ.get(env)
