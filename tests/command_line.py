"""Running `docex` as a person does: a separate process, its output as they would read it."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from tests.conftest import SEAL_PASSWORD


async def docex_process(*args: str, **options: Any) -> asyncio.subprocess.Process:
    """`docex ARGS` started in a process of its own and left running; `options` as for
    asyncio.create_subprocess_exec (env, stdout, stderr)."""
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "docex.cli", *args, **options)


async def line_with(stream: asyncio.StreamReader | None, marker: bytes, timeout: float) -> bytes:
    """The first line a daemon prints that holds `marker` (its start-up line, say)."""
    assert stream is not None, "the process's output is not piped"
    async with asyncio.timeout(timeout):
        while marker not in (line := await stream.readline()):
            assert line, f"the process ended before it printed {marker.decode()!r}"
    return line


async def docex(
    *args: str, password: str = SEAL_PASSWORD, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Exit status and everything printed (stdout and stderr, in order); in English unless
    `env` sets the locale."""
    english = {"LANG": "C.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    process = await docex_process(
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
