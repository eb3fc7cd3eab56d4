"""Running `docex` as a person does: a separate process, its output as they would read it."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import SEAL_PASSWORD


async def docex(
    *args: str, password: str = SEAL_PASSWORD, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Exit status and everything printed (stdout and stderr, in order); in English unless
    `env` sets the locale."""
    english = {"LANG": "C.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docex.cli",
        *args,
        env={**os.environ, **english, "DOCEX_SEAL_PASSWORD": password, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


def sent_id(output: str) -> str:
    """The document id `send` printed."""
    return output.split(" id ")[1].split()[0].rstrip(";")
