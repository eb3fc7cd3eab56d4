"""Keeps the router's background tasks running, and says when one is not.

A task that raised used to just end: one "database is locked" ended the outbox publisher, and
deliveries stopped until someone restarted the router, while /readyz said ready and nothing
was logged. Under a `Supervisor` a failure is logged with its traceback (`task_failed`),
counted in `docex_task_failures_total{task}`, and the task is started again after a back-off
that doubles up to half a minute, so a task that keeps failing neither spins nor gives up.
It counts as down, and /readyz names it, until it has run `settle_s` without failing again.
Cancellation is how the router stops its tasks, so it is never a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from docex.backoff import Backoff

log = structlog.get_logger("docex.router")

_SETTLE_S = 10.0
_BACKOFF_INITIAL_S = 0.5
_BACKOFF_CAP_S = 30.0

Work = Callable[[], Awaitable[None]]


@dataclass
class _Down:
    since: datetime
    failures: int
    error: str


class Supervisor:
    def __init__(self, failures: Counter, settle_s: float = _SETTLE_S) -> None:
        self._failures = failures
        self._settle_s = settle_s
        self._tasks: list[asyncio.Task[None]] = []
        self._down: dict[str, _Down] = {}

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self, name: str, work: Work) -> None:
        """Run `work()` until `stop`, starting it again each time it fails."""
        self._tasks.append(asyncio.create_task(self._keep_running(name, work), name=name))

    def problems(self) -> list[str]:
        """One line per task that is down, for /readyz."""
        return [
            f"task {name}: down since {down.since:%Y-%m-%d %H:%M:%S} UTC,"
            f" {down.failures} failure(s), the last: {down.error}"
            for name, down in self._down.items()
        ]

    async def cancel(self, *names: str) -> None:
        """Stop these tasks (the leader's jobs, when leadership is lost)."""
        stopping = [task for task in self._tasks if task.get_name() in names]
        for task in stopping:
            task.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
        self._tasks = [task for task in self._tasks if task not in stopping]
        for name in names:
            self._down.pop(name, None)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _keep_running(self, name: str, work: Work) -> None:
        backoff = Backoff(initial_s=_BACKOFF_INITIAL_S, cap_s=_BACKOFF_CAP_S)
        loop = asyncio.get_running_loop()
        while True:
            settled = loop.call_later(self._settle_s, self._settled, name, backoff)
            try:
                await work()
                failure: Exception = RuntimeError("returned; it should run until the router stops")
            except Exception as exc:
                failure = exc
            finally:
                settled.cancel()
            delay = backoff.next_delay()
            log.error("task_failed", task=name, retry_in=round(delay, 1), exc_info=failure)
            self._failures.labels(name).inc()
            error = f"{type(failure).__name__}: {failure}"
            down = self._down.setdefault(name, _Down(datetime.now(UTC), 0, error))
            down.failures += 1
            down.error = error
            await asyncio.sleep(delay)

    def _settled(self, name: str, backoff: Backoff) -> None:
        """The task has run `settle_s` without failing: it is up, and a later failure is
        retried quickly again."""
        backoff.reset()
        if self._down.pop(name, None) is not None:
            log.info("task_recovered", task=name)
