"""Driving the web page in a real browser: Debian's chromium through Playwright.

The ``browser`` and ``page`` fixtures (tests/e2e/conftest.py) are built from these; the
helpers act as a person would, and every wait is on page state, never on a sleep.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.services import services_required

__all__ = ["DESKTOP", "PASSWORD", "PHONE", "ask", "launch", "new_page", "register"]

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
