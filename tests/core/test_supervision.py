"""A background task that fails is logged, counted, reported by /readyz and started again
(docex/router/supervision.py), on a real event loop and a real HTTP endpoint."""

from __future__ import annotations

import asyncio
import traceback
from pathlib import Path

from structlog.testing import capture_logs

from docex.ledger.sqlite import SqliteLedger
from docex.router import health
from docex.router.metrics import Metrics
from docex.router.supervision import Supervisor
from tests.edge.test_operations import readiness


async def test_a_failed_task_is_logged_counted_reported_and_started_again(
    tmp_path: Path, free_port: int
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite")
    metrics = Metrics(ledger)
    supervisor = Supervisor(metrics.task_failures, settle_s=0.3)
    starts = 0

    async def flaky() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            raise ValueError("no such unit: 'finanse'")
        await asyncio.Event().wait()  # runs until stopped

    def failures() -> float | None:
        return metrics.registry.get_sample_value("docex_task_failures_total", {"task": "flaky"})

    server = await health.serve(
        "127.0.0.1", free_port, metrics.registry, supervisor.problems, lambda: []
    )
    try:
        with capture_logs() as logs:
            supervisor.start("flaky", flaky)
            down = await readiness(free_port, 503)
            assert down.startswith("task flaky: down since "), down
            assert down.endswith("the last: ValueError: no such unit: 'finanse'\n"), down
            assert failures() == 1
            [failed] = [entry for entry in logs if entry["event"] == "task_failed"]
            assert failed["task"] == "flaky"
            assert "raise ValueError" in "".join(traceback.format_exception(failed["exc_info"]))

            assert await readiness(free_port, 200) == "ready\n"
            assert starts == 2
            # Stopping cancels the task: that is no failure.
            await supervisor.stop()
        assert failures() == 1
        assert [entry["event"] for entry in logs] == ["task_failed", "task_recovered"]
    finally:
        server.close()
        ledger.close()
