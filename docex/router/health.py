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
    about: Readiness = list,
    warnings: Readiness = list,
) -> asyncio.Server:
    """`not_ready` returns what keeps the router from serving, empty when it is ready;
    `about`, lines /readyz adds either way (the last config reload); `warnings` what an
    operator must see to before it matters (the body says, the status not)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            method, path, *_ = request.decode("latin-1").split() or ["", ""]
            while (await asyncio.wait_for(reader.readline(), timeout=5)).strip():
                pass
            status, content_type, body = _route(method, path, registry, not_ready, about, warnings)
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
    method: str,
    path: str,
    registry: CollectorRegistry,
    not_ready: Readiness,
    about: Readiness,
    warnings: Readiness,
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
        status = "503 Service Unavailable" if problems else "200 OK"
        lines = (problems or ["ready"]) + about() + [f"warning: {w}" for w in warnings()]
        return status, text, ("\n".join(lines) + "\n").encode()
    return "404 Not Found", text, b"/metrics, /healthz, /readyz\n"
