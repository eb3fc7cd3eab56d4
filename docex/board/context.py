"""What every page reads from, kept on the application and the request: the board's parts, and
who is looking (set by the check every request passes, docex/board/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from aiohttp import web

from docex.board.auth import Viewer
from docex.board.present import Names
from docex.clock import Clock
from docex.config import Config
from docex.ledger.port import LedgerReads


@dataclass(frozen=True)
class Board:
    config: Config
    ledger: LedgerReads
    clock: Clock
    templates: jinja2.Environment
    names: Names


BOARD = web.AppKey("board", Board)
_VIEWER = web.RequestKey("viewer", Viewer)


def board_of(request: web.Request) -> Board:
    return request.app[BOARD]


def set_viewer(request: web.Request, viewer: Viewer) -> None:
    request[_VIEWER] = viewer


def viewer_of(request: web.Request) -> Viewer:
    return request[_VIEWER]
