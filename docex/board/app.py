"""The board's web application: its routes, the checks every request passes (who is looking,
the security headers), the log line of every view, and running it until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import jinja2
import structlog
from aiohttp import web

from docex.board import present, views
from docex.board.auth import SUBJECT_HEADER, VERIFIED_HEADER, Refused, identify
from docex.board.context import BOARD, Board, set_viewer
from docex.clock import Clock
from docex.config import Config
from docex.ledger.port import LedgerReads

log = structlog.get_logger("docex.board")

# Scripts, styles and forms only from the board itself; nothing may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_STATIC = Path(__file__).parent / "static"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(config: Config, ledger: LedgerReads, clock: Clock) -> web.Application:
    names = present.Names(config)
    templates = jinja2.Environment(
        loader=jinja2.PackageLoader("docex.board", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    templates.filters.update(
        beijing=present.beijing,
        span=present.span,
        countdown=present.countdown,
        unit=names,
        state=lambda state: present.STATES.get(state, state),
        role=lambda role: present.ROLES.get(role, role),
        duties=present.duties,
        fault_kind=lambda kind: present.FAULT_KINDS.get(kind, kind),
    )
    app = web.Application(middlewares=[_security_headers, _who_is_looking])
    app[BOARD] = Board(config, ledger, clock, templates, names)
    app.router.add_get("/", views.home)
    app.router.add_get("/documents", views.documents)
    app.router.add_get("/documents/{doc_id}", views.document)
    app.router.add_get("/waiting", views.waiting)
    app.router.add_get("/persons", views.register)
    app.router.add_get("/links", views.links)
    app.router.add_get("/notices", views.notices)
    app.router.add_get("/notices/{notice_id}/pdf", views.notice_pdf)
    app.router.add_get("/info", views.information)
    app.router.add_get("/ops", views.operations)
    app.router.add_static("/static", _STATIC)
    return app


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def _who_is_looking(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request, static files too, comes through the proxy with a known subject; every
    view is logged with who looked at what."""
    board = request.app[BOARD]
    try:
        viewer = identify(
            request.remote,
            request.headers.get(VERIFIED_HEADER),
            request.headers.get(SUBJECT_HEADER),
            board.config.board.subjects,
        )
    except Refused as refusal:
        log.warning(
            "board_refused",
            peer=request.remote,
            subject=request.headers.get(SUBJECT_HEADER),
            path=request.path_qs,
            reason=str(refusal),
        )
        return views.refusal(board, 403, str(refusal))
    set_viewer(request, viewer)
    response = await handler(request)
    if not request.path.startswith("/static/"):
        log.info(
            "board_view",
            subject=viewer.subject,
            viewer=viewer.unit or "office",
            path=request.path_qs,
            status=response.status,
        )
    return response


async def start(
    config: Config, ledger: LedgerReads, clock: Clock, host: str, port: int
) -> web.AppRunner:
    """Serve the board on host:port until the runner is cleaned up."""
    runner = web.AppRunner(make_app(config, ledger, clock), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run(config: Config, ledger: LedgerReads, clock: Clock, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = await start(config, ledger, clock, host, port)
    log.info("board_started", listen=f"{host}:{port}", ledger=config.router.ledger)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("board_stopped")
