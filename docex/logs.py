"""Structured logs: JSON lines under systemd (journald), readable lines in a terminal.

Under systemd each line starts with its syslog priority (`<3>` error, `<4>` warning, `<6>`
info, `<7>` debug: sd-daemon(3)), which journald strips and keeps as the entry's priority, so
`journalctl -p warning -u docex-router` shows exactly the warnings and errors. journald is
recognised the way sd_journal_stream_fd(3) documents: $JOURNAL_STREAM names the device and
inode of the stream stderr is.
"""

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_PRIORITY = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "info": 6, "debug": 7}


def configure(level: str = "info") -> None:
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    if _stderr_is_journal():
        renderer = _with_priority(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def _stderr_is_journal() -> bool:
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    try:
        status = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream != "" and (device, inode) == (str(status.st_dev), str(status.st_ino))


def _with_priority(renderer: structlog.typing.Processor) -> structlog.typing.Processor:
    def render(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        line = renderer(logger, method_name, event_dict)
        assert isinstance(line, str), "the JSON and console renderers make text"
        return f"<{_PRIORITY.get(method_name, 6)}>{line}"

    return render
