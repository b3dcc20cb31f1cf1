"""Driving the web page in a real browser: Debian's chromium through Playwright.

The ``browser`` and ``page`` fixtures (tests/e2e/conftest.py) are built from these; the
helpers act as a person would, and every wait is on page state, never on a sleep.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    Page,
    ViewportSize,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from tests.services import services_required

__all__ = [
    "DESKTOP",
    "PASSWORD",
    "PHONE",
    "Connection",
    "SocketProxy",
    "ask",
    "launch",
    "new_page",
    "register",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
DESKTOP: ViewportSize = {"width": 1200, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def launch() -> Iterator[Browser]:
    """Chromium, headless; skipped (failed under ``GOLDPATH_REQUIRE_SERVICES=1``) if absent."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests"
        if services_required():
            pytest.fail(f"{reason}, and GOLDPATH_REQUIRE_SERVICES=1 says it must be there")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser, viewport: ViewportSize = DESKTOP) -> Iterator[Page]:
    """A page in its own context (its own sessionStorage), 10 s to wait for anything."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def register(page: Page, base_url: str) -> str:
    """Register a fresh user through the page and wait until the stream is live."""
    username = f"user_{secrets.token_hex(4)}"
    page.goto(base_url)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("register-button").click()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")
    return username


def ask(page: Page, question: str) -> None:
    chat = page.get_by_test_id("chat-input")
    expect(chat).to_be_enabled()
    chat.fill(question)
    chat.press("Enter")


# ---------- a proxy between page and server that the test can cut ----------


@dataclass
class Connection:
    page_side: WebSocketRoute
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    held: list[str | bytes] = field(default_factory=list)
    dropped: bool = False


class SocketProxy:
    """Forwards every /ws frame itself and records them; it can drop a connection on a
    frame, and hold back the events (frames with an offset) it would deliver."""

    def __init__(self, page: Page) -> None:
        self.connections: list[Connection] = []
        # For the first connection only: drop it instead of delivering a frame it accepts,
        # to the page (drop_when) or to the server (drop_sent_when).
        self.drop_when: Callable[[dict[str, Any]], bool] | None = None
        self.drop_sent_when: Callable[[dict[str, Any]], bool] | None = None
        self.hold_events = False
        page.route_web_socket("**/ws", self._route)

    def sent(self, kind: str) -> list[dict[str, Any]]:
        """The frames of type ``kind`` the page sent, on every connection."""
        return [f for conn in self.connections for f in conn.sent if f.get("type") == kind]

    def release(self) -> None:
        """Stop holding events and deliver those held, in order."""
        self.hold_events = False
        for conn in self.connections:
            held, conn.held = conn.held, []
            for message in held:
                if not conn.dropped:
                    conn.received.append(json.loads(message))
                    conn.page_side.send(message)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        conn = Connection(ws)
        self.connections.append(conn)

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            first = conn is self.connections[0]
            if first and self.drop_sent_when is not None and self.drop_sent_when(frame):
                self.drop_sent_when = None
                conn.dropped = True
                ws.close(code=4000, reason="dropped by the test")  # the frame is lost
                return
            conn.sent.append(frame)
            server.send(message)

        def to_page(message: str | bytes) -> None:
            if conn.dropped:
                return  # what the server sent after the drop never reaches the page
            frame = json.loads(message)
            first = conn is self.connections[0]
            if first and self.drop_when is not None and self.drop_when(frame):
                self.drop_when = None
                conn.dropped = True
                ws.close(code=4000, reason="dropped by the test")  # the frame is lost
                return
            if self.hold_events and "offset" in frame:
                conn.held.append(message)
                return
            conn.received.append(frame)
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)
