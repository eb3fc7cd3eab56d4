"""The import rules of the one package: what each part may load, checked on the code itself."""

from __future__ import annotations

import subprocess
import sys

HEAVY_FOR_THE_PARSER = ["matplotlib", "reportlab", "aio_pika", "aiomqtt", "docex.router.service"]


def modules_loaded_by(code: str) -> set[str]:
    """sys.modules after running `code` in a fresh interpreter, where nothing is loaded yet."""
    shown = "import sys; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{shown}"], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_building_the_cli_parser_loads_no_heavy_module() -> None:
    loaded = modules_loaded_by("import docex.cli; docex.cli.parser()")

    assert "docex.cli.report" in loaded  # the parser was built, command groups and all
    assert [name for name in HEAVY_FOR_THE_PARSER if name in loaded] == []
