"""Every structural problem of a settings file at once: unknown keys, missing keys, wrong types.

msgspec stops at the first field it cannot convert, so an operator fixing a file would run the
check once per mistake. This walks the parsed TOML against the struct instead, field by
field, and gives each problem with its path; what is left once they are dropped can still be
converted and checked for meaning (docex/config.py), so one run names everything.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import msgspec

from docex.i18n import _

Where = tuple[str | int, ...]
Problem = tuple[Where, str]


def shape_problems(data: dict[str, Any], shape: type) -> tuple[list[Problem], dict[str, Any]]:
    """The problems, and `data` with the offending keys taken out (a missing required key
    stays a problem for the caller's conversion)."""
    problems: list[Problem] = []
    return problems, _walk(data, shape, (), problems)


def _walk(
    data: dict[str, Any], shape: type, where: Where, problems: list[Problem]
) -> dict[str, Any]:
    fields = {field.encode_name: field for field in msgspec.structs.fields(shape)}
    kept: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            problems.append(((*where, key), _("unknown key {key!r}").format(key=key)))
            continue
        checked = _value(value, field.type, (*where, key), problems)
        if checked is not _BAD:
            kept[key] = checked
    for name, field in fields.items():
        if field.required and name not in data:
            problems.append(
                ((*where, name), _("missing required field `{name}`").format(name=name))
            )
    return kept


_BAD = object()


def _value(value: Any, kind: Any, where: Where, problems: list[Problem]) -> Any:
    """The value, walked into when it is a table (or an array of tables) of a struct."""
    if _is_struct(kind):
        if not isinstance(value, dict):
            problems.append(
                (where, _("expected a table, got {kind}").format(kind=_type_name(value)))
            )
            return _BAD
        return _walk(value, kind, where, problems)
    item = _struct_items(kind)
    if item is not None and isinstance(value, list):
        walked = []
        for index, element in enumerate(value):
            checked = _value(element, item, (*where, index), problems)
            if checked is not _BAD:
                walked.append(checked)
        return walked
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        problems.append((where, msgspec_problem(str(exc))))
        return _BAD
    return value


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _struct_items(kind: Any) -> Any:
    """For list[SomeStruct], SomeStruct; else None."""
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return item if _is_struct(item) else None
    return None


_TYPE_NAMES: dict[type, str] = {list: "an array", str: "a string"}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


_ENUM = re.compile(r"Invalid enum value (?P<value>.+)")
_EXPECTED = re.compile(r"Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")


def msgspec_problem(message: str) -> str:
    """msgspec's sentence for a value of the wrong type, without its path, in the reader's
    language where it is the usual one."""
    message = message.partition(" - at `")[0]
    found = _EXPECTED.fullmatch(message)
    if found:
        return _("Expected `{expected}`, got `{got}`").format(**found.groupdict())
    enum = _ENUM.fullmatch(message)
    if enum:
        return _("not one of the allowed values: {value}").format(value=enum["value"])
    return message
