"""Take the web page's screenshots in docs/, against a throwaway server.

    python scripts/screenshot.py [output directory, default docs]

Writes screenshot.png (desktop: finished runs with their tool steps and a Markdown answer),
screenshot-narrow.png (a phone: the thread drawer open over the conversation) and
screenshot-approval.png (a run waiting for approval of its calculator call, with a call
approved before it). Runs the real app (offline model, a temporary data directory; for the
approval picture ``approval_tools=["calculator"]``) on a loopback port and drives Debian's
chromium (/usr/bin/chromium) with Playwright; no network is used.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from goldpath.server import Settings, create_app

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


QUESTIONS = ["What is 17 * 23?", "And that plus 9?", "What can you do?"]


def main(out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            with serving() as url:
                desktop(browser, url, out / "screenshot.png")
                narrow(browser, url, out / "screenshot-narrow.png")
            with serving(approval_tools=["calculator"]) as url:
                approval(browser, url, out / "screenshot-approval.png")
        finally:
            browser.close()


@contextmanager
def serving(**settings: Any) -> Iterator[str]:
    """The app on a loopback port with a throwaway data directory; yields its URL."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(
            Settings(
                data_dir=Path(data_dir),
                password_hash_time_cost=1,
                password_hash_memory_kib=1024,
                **settings,
            )
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def desktop(browser: Browser, url: str, out: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 860})
    enter(page, url, "ada")
    for question in QUESTIONS:
        ask(page, question)
    expect(page.get_by_test_id("thread-item")).to_have_count(1)
    page.get_by_test_id("tool-step").last.locator("summary").click()
    page.get_by_test_id("chat-input").fill("What time is it in Europe/Paris?")
    page.get_by_test_id("conversation").evaluate("c => { c.scrollTop = c.scrollHeight; }")
    page.screenshot(path=str(out))
    page.close()


def narrow(browser: Browser, url: str, out: Path) -> None:
    # Reduced motion: the drawer is drawn open at once, not mid-slide.
    page = browser.new_page(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, reduced_motion="reduce"
    )
    enter(page, url, "grace")
    ask(page, "What time is it in Europe/Paris?")
    page.get_by_test_id("drawer-button").click()
    page.get_by_test_id("new-chat").click()
    for question in QUESTIONS[:2]:
        ask(page, question)
    expect(page.get_by_test_id("thread-item")).to_have_count(2)
    page.get_by_test_id("drawer-button").click()
    expect(page.get_by_test_id("drawer")).to_be_visible()
    page.screenshot(path=str(out))
    page.close()


def approval(browser: Browser, url: str, out: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 860})
    enter(page, url, "ada")
    page.get_by_test_id("chat-input").fill("What is 17 * 23?")
    page.get_by_test_id("chat-input").press("Enter")
    page.get_by_test_id("approve-button").click()
    expect(page.get_by_test_id("status-badge").first).to_have_text("Completed")
    page.get_by_test_id("chat-input").fill("And that plus 9?")
    page.get_by_test_id("chat-input").press("Enter")
    card = page.get_by_test_id("approval").last
    expect(card).to_have_attribute("data-state", "waiting")
    card.get_by_test_id("approval-args").fill('{\n  "expression": "391 + 10"\n}')
    page.get_by_test_id("conversation").evaluate("c => { c.scrollTop = c.scrollHeight; }")
    page.screenshot(path=str(out))
    page.close()


def enter(page: Page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill("correct horse battery")
    page.get_by_test_id("register-button").click()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")


def ask(page: Page, question: str) -> None:
    """Ask, and wait until the run has ended."""
    done = page.get_by_test_id("status-badge").count() + 1
    chat = page.get_by_test_id("chat-input")
    expect(chat).to_be_enabled()
    chat.fill(question)
    chat.press("Enter")
    expect(page.get_by_test_id("status-badge")).to_have_count(done)
    expect(page.get_by_test_id("status-badge").last).to_have_text("Completed")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs"))
