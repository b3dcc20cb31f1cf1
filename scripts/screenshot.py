"""Take docs/screenshot.png: the web page mid-conversation, against a throwaway server.

    python scripts/screenshot.py [output.png]

Runs the real app (offline model, a temporary data directory) on a loopback port and
drives Debian's chromium (/usr/bin/chromium) with Playwright; no network is used.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

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


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir), password_hash_time_cost=1, password_hash_memory_kib=1024
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            shoot(url, out)
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def shoot(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        page.goto(url)
        page.get_by_test_id("login-username").fill("ada")
        page.get_by_test_id("login-password").fill("correct horse battery")
        page.get_by_test_id("register-button").click()
        for n, question in enumerate(["What is 17 * 23?", "And (2 + 3) ** 4?"], start=1):
            chat = page.get_by_test_id("chat-input")
            expect(chat).to_be_enabled()
            chat.fill(question)
            chat.press("Enter")
            expect(page.get_by_test_id("status-badge").nth(n - 1)).to_have_text("ok")
        expect(page.get_by_test_id("thread-item")).to_have_count(1)
        page.get_by_test_id("tool-step").last.locator("summary").click()
        page.get_by_test_id("chat-input").fill("What time is it?")
        page.get_by_test_id("conversation").evaluate("c => { c.scrollTop = c.scrollHeight; }")
        page.screenshot(path=str(out))
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshot.png"))
