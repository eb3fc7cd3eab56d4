"""The board as it runs: a real router and ledger, the board reading that ledger read-only on a
real port, and Debian's Chromium driven by Playwright playing the user behind the TLS proxy
(the proxy's identity headers are added to every request the browser makes)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from docex.board.app import start
from docex.config import Config
from docex.ledger.open import open_ledger
from docex.router.service import Router
from tests.conftest import FakeClock, Pki, write_router_config

OFFICE_DN = "CN=李四,OU=秘书处,O=市府办公厅"
FINANCE_DN = "CN=王五,OU=办公室,O=市财政局"
EDUCATION_DN = "CN=赵六,OU=办公室,O=市教育局"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "board"

BOARD_SECTION = f"""
[board]
listen = "127.0.0.1:8480"

[board.subjects]
"{OFFICE_DN}" = "office"
"{FINANCE_DN}" = "finance"
"{EDUCATION_DN}" = "education"
"""


@pytest.fixture
def config_file(tmp_path: Path, prefix: str, pki: Pki) -> Path:
    """The router's config with a [board] section: the office and two units' registrars."""
    path = write_router_config(tmp_path / "router.toml", prefix, pki, tmp_path / "ledger.sqlite")
    with path.open("a") as file:
        file.write(BOARD_SECTION)
    return path


@dataclass(frozen=True)
class RunningBoard:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest_asyncio.fixture
async def board(router: Router, config: Config, clock: FakeClock) -> AsyncIterator[RunningBoard]:
    """The board on every address of this machine (so a test can reach it from a peer that is
    not loopback), on the router's ledger, read-only, on the tests' clock."""
    ledger = open_ledger(config.router.ledger, read_only=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    runner: web.AppRunner = await start(config, ledger, clock, "0.0.0.0", port)
    try:
        yield RunningBoard(port)
    finally:
        await runner.cleanup()
        ledger.close()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


PageAs = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture
async def page_as(browser: Browser) -> AsyncIterator[PageAs]:
    """Opens a page as the holder of a certificate with this subject, the proxy having checked
    it; None: a request the proxy did not vouch for."""
    contexts = []

    async def open_page(subject: str | None, verified: str = "SUCCESS") -> Page:
        headers = {}
        if subject is not None:
            headers = {"X-Client-Verified": verified, "X-Client-DN": as_nginx_writes_it(subject)}
        context = await browser.new_context(
            extra_http_headers=headers,
            locale="zh-CN",
            viewport={"width": 1280, "height": 900},
        )
        contexts.append(context)
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()


def as_nginx_writes_it(dn: str) -> str:
    """$ssl_client_s_dn is RFC 2253: each byte of a non-ASCII character as `\\XX`."""
    return "".join(
        char if char.isascii() else "".join(f"\\{byte:02X}" for byte in char.encode())
        for char in dn
    )


async def screenshot(page: Page, name: str) -> None:
    """Kept for people to look at: test-artifacts/board/NAME.png (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
