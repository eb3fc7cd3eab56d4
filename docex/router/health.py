"""The router's HTTP endpoint: /metrics for Prometheus, /healthz and /readyz for probes.

A few lines of asyncio instead of a web framework: three GET routes on the event loop that
owns the ledger, so readiness and the ledger gauges are read without locking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Readiness = Callable[[], list[str]]


async def serve(
    host: str,
    port: int,
    registry: CollectorRegistry,
    not_ready: Readiness,
    warnings: Readiness = list,
) -> asyncio.Server:
    """`not_ready` returns what keeps the router from serving, empty when it is ready;
    `warnings` what an operator must see to before it does (the body says, the status not)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            method, path, *_ = request.decode("latin-1").split() or ["", ""]
            while (await asyncio.wait_for(reader.readline(), timeout=5)).strip():
                pass
            status, content_type, body = _route(method, path, registry, not_ready, warnings)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


def _route(
    method: str, path: str, registry: CollectorRegistry, not_ready: Readiness, warnings: Readiness
) -> tuple[str, str, bytes]:
    text = "text/plain; charset=utf-8"
    if method != "GET":
        return "405 Method Not Allowed", text, b"GET only\n"
    if path == "/metrics":
        return "200 OK", CONTENT_TYPE_LATEST, generate_latest(registry)
    if path == "/healthz":
        return "200 OK", text, b"ok\n"
    if path == "/readyz":
        problems = not_ready()
        notes = "".join(f"warning: {warning}\n" for warning in warnings())
        if problems:
            return "503 Service Unavailable", text, ("\n".join(problems) + "\n" + notes).encode()
        return "200 OK", text, ("ready\n" + notes).encode()
    return "404 Not Found", text, b"/metrics, /healthz, /readyz\n"
