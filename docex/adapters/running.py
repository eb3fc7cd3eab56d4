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
import aiomqtt

from docex.cli import rejections
from docex.error_text import connection_reason, file_problem
from docex.i18n import _
from docex.seals.errors import SealError
from docex.settings_file import SettingsError


def run_adapter(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """`main` reads its settings as it starts, so their errors are reported here too."""
    try:
        asyncio.run(main())
    except SettingsError as exc:
        return _failed(str(exc), 2)
    except SealError as exc:
        return _failed(f"{exc.code}: {rejections.detail(exc.message)}", 2)
    except aio_pika.exceptions.ProbableAuthenticationError:
        return _failed(_("the exchange's broker refused this unit's login: check amqp_url"), 2)
    except OSError as exc:
        if exc.filename:
            return _failed(file_problem(exc), 2)
        return _unreachable(exc)
    except (aio_pika.exceptions.AMQPError, aiomqtt.MqttError) as exc:
        return _unreachable(exc)
    return 0


def _unreachable(exc: BaseException) -> int:
    """The exchange's RabbitMQ, or (for the bridge) the office system's MQTT broker."""
    reason = connection_reason(exc)
    return _failed(
        _("cannot reach the broker: {reason}; check its address").format(reason=reason), 3
    )


def _failed(problem: str, status: int) -> int:
    print(_("error: {problem}").format(problem=problem), file=sys.stderr)
    return status


def stop_on_signals() -> asyncio.Event:
    """Set at SIGTERM (systemd stopping the service) or SIGINT (Ctrl-C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
