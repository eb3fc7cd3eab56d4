"""The import rules of the one package, checked on the code itself: the rules of the exchange
load no I/O library, only docex/ledger/ speaks SQLite, only the CLI starts the router, and
building the CLI's parser loads nothing heavy."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "docex"
HEAVY_FOR_THE_PARSER = [
    "matplotlib",
    "reportlab",
    "aio_pika",
    "aiomqtt",
    "docex.router.service",
    "aiohttp",
    "jinja2",
]
IO_FOR_THE_CORE = ["sqlite3", "aio_pika", "aiomqtt", "prometheus_client"]


def imports(tree: ast.Module) -> Iterator[str]:
    """Every module an import statement names, `from a import b` as both `a` and `a.b` (b may
    be a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def importers_of(module: str, allowed: list[str]) -> list[str]:
    """The files outside the `allowed` folders of docex/ that import `module` or a part of it."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        if any(where.startswith(folder) for folder in allowed):
            continue
        named = imports(ast.parse(path.read_text(), filename=where))
        if any(name == module or name.startswith(f"{module}.") for name in named):
            found.append(where)
    return found


def modules_loaded_by(code: str) -> set[str]:
    """sys.modules after running `code` in a fresh interpreter, where nothing is loaded yet."""
    shown = "import sys; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{shown}"], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_only_the_ledger_imports_sqlite3() -> None:
    assert "docex/ledger/sqlite.py" in importers_of("sqlite3", [])  # the scan sees it
    assert importers_of("sqlite3", ["docex/ledger/"]) == []


def test_only_the_cli_imports_the_router() -> None:
    assert importers_of("docex.router", ["docex/router/", "docex/cli/"]) == []


def test_the_core_loads_no_io_library() -> None:
    code = (
        "import pkgutil, importlib, docex.core\n"
        "for module in pkgutil.walk_packages(docex.core.__path__, 'docex.core.'):\n"
        "    importlib.import_module(module.name)"
    )
    loaded = modules_loaded_by(code)

    assert "docex.core.rules" in loaded  # every module of the core was imported
    assert [name for name in IO_FOR_THE_CORE if name in loaded] == []


def test_building_the_cli_parser_loads_no_heavy_module() -> None:
    loaded = modules_loaded_by("import docex.cli; docex.cli.parser()")

    assert "docex.cli.report" in loaded  # the parser was built, command groups and all
    assert [name for name in HEAVY_FOR_THE_PARSER if name in loaded] == []
