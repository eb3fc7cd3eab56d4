"""How an adapter runs as a service (one instance per unit under systemd): until SIGTERM or
SIGINT, and when it cannot start, one line saying why and an exit status that tells a
mistake in its settings (2) from an exchange it cannot reach (3)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import aio_pika

from docex.seals.errors import SealError
from docex.settings_file import SettingsError


def run_adapter(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """`main` reads its settings as it starts, so their errors are reported here too."""
    try:
        asyncio.run(main())
    except (SettingsError, SealError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except aio_pika.exceptions.AMQPError as exc:
        print(f"error: cannot reach the exchange: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def stop_on_signals() -> asyncio.Event:
    """Set at SIGTERM (systemd stopping the service) or SIGINT (Ctrl-C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
