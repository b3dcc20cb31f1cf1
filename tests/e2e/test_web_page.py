"""The web page in a real browser (Debian's chromium) against the real server on loopback.

Every wait is on page state (Playwright's auto-waiting ``expect``), never on a sleep.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import PASSWORD, SocketProxy, ask, register
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

# The shared TestModel (tests/e2e/conftest.py) answers "slow N" with N deltas 50 ms apart.
SLOW_DELTAS = 20
SLOW_QUESTION = f"slow {SLOW_DELTAS}"
SLOW_ANSWER = "".join(f"{i} " for i in range(SLOW_DELTAS))
DROP_AT_DELTA = 3  # the proxy drops the socket instead of delivering this delta


# ---------- tests ----------


def test_ask_see_tool_step_answer_and_history_after_reload(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, "What is 17 * 23?")

    run = page.get_by_test_id("run")
    badge = run.get_by_test_id("status-badge")
    expect(badge).to_have_attribute("data-status", "ok")
    expect(badge).to_have_text("Completed")

    tool = run.get_by_test_id("tool-step")
    expect(tool).to_have_count(1)
    expect(tool.get_by_test_id("tool-name")).to_have_text("calculator")
    tool.locator("summary").click()
    expect(tool.get_by_test_id("tool-args")).to_be_visible()
    assert json.loads(tool.get_by_test_id("tool-args").inner_text()) == {"expression": "17 * 23"}
    expect(tool.get_by_test_id("tool-result")).to_have_text("391")
    expect(tool.get_by_test_id("tool-duration")).to_have_text(re.compile(r"^\d+(\.\d+)? m?s$"))
    expect(run.get_by_test_id("answer")).to_contain_text("391")
    kinds = run.get_by_test_id("step").evaluate_all("els => els.map(e => e.dataset.type)")
    assert kinds == ["agent_started", "agent_thinking", "tool", "agent_completed"]

    page.reload()
    threads = page.get_by_test_id("thread-item")
    expect(threads).to_have_count(1)
    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    threads.first.click()
    # The past run is drawn from its stored events, as it was live (test_web_page_history.py).
    messages = page.get_by_test_id("message")
    expect(messages).to_have_count(1)
    expect(messages.nth(0)).to_have_attribute("data-role", "user")
    expect(messages.nth(0)).to_have_text("What is 17 * 23?")
    expect(run.get_by_test_id("answer")).to_contain_text("391")
    kinds = run.get_by_test_id("step").evaluate_all("els => els.map(e => e.dataset.type)")
    assert kinds == ["agent_started", "agent_thinking", "tool", "agent_completed"]


def test_dropped_socket_resumes_and_shows_every_step_once(server: Server, page: Page) -> None:
    proxy = SocketProxy(page)
    deltas_seen = 0

    def third_delta(frame: dict[str, Any]) -> bool:
        nonlocal deltas_seen
        if frame.get("type") == "message_delta":
            deltas_seen += 1
        return deltas_seen == DROP_AT_DELTA

    register(page, server.base_url)
    proxy.drop_when = third_delta
    ask(page, SLOW_QUESTION)

    run = page.get_by_test_id("run")
    badge = run.get_by_test_id("status-badge")
    expect(badge).to_have_attribute("data-status", "ok")
    answer = run.get_by_test_id("answer")
    expect(answer).to_have_text(SLOW_ANSWER)
    assert answer.text_content() == SLOW_ANSWER  # exactly, not merely containing it
    expect(answer).to_have_attribute("data-deltas", str(SLOW_DELTAS))
    kinds = run.get_by_test_id("step").evaluate_all("els => els.map(e => e.dataset.type)")
    assert kinds == ["agent_started", "agent_thinking", "agent_completed"]
    expect(page.get_by_test_id("message")).to_have_count(1)  # the user's, shown once

    # The drop really happened mid-run and the page resumed from the last offset it saw.
    assert len(proxy.connections) == 2, "the page should have reconnected exactly once"
    first, second = proxy.connections
    last_seen = max(f["offset"] for f in first.received if "offset" in f)
    resume = second.sent[1]
    assert second.sent[0]["type"] == "auth"
    assert resume["type"] == "resume"
    assert resume["offset"] == last_seen
    resumed = next(f for f in second.received if f["type"] == "resumed")
    assert resumed["replayed"] >= 1
    assert not any(f.get("type") == "agent_completed" for f in first.received)
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")


def test_bad_login_shows_the_server_message(server: Server, page: Page) -> None:
    expected = httpx.post(
        f"{server.base_url}/auth/login",
        json={"username": "nobody_here", "password": "wrong-password"},
    ).json()["error"]["message"]
    page.goto(server.base_url)
    page.get_by_test_id("login-username").fill("nobody_here")
    page.get_by_test_id("login-password").fill("wrong-password")
    page.get_by_test_id("login-button").click()
    expect(page.get_by_test_id("login-error")).to_have_text(expected)
    expect(page.get_by_test_id("login-form")).to_be_visible()


def test_4401_on_a_bad_stored_token_returns_to_login(server: Server, page: Page) -> None:
    proxy = SocketProxy(page)
    register(page, server.base_url)
    # The stored token goes bad; the next connection presents it and gets 4401.
    page.evaluate("sessionStorage.setItem('goldpath.token', 'not-a-valid-token')")
    proxy.connections[0].page_side.close(code=4000, reason="dropped by the test")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_test_id("login-error")).to_contain_text("log in again")
    expect(page.get_by_test_id("connection-status")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('goldpath.token')") is None
    assert len(proxy.connections) == 2
    assert proxy.connections[1].sent == [{"type": "auth", "token": "not-a-valid-token"}]


def test_taken_username_shows_the_server_message(server: Server, page: Page) -> None:
    username = f"taken_{secrets.token_hex(4)}"
    first = httpx.post(
        f"{server.base_url}/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert first.status_code == 201
    expected = httpx.post(
        f"{server.base_url}/auth/register", json={"username": username, "password": PASSWORD}
    ).json()["error"]["message"]
    page.goto(server.base_url)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("register-button").click()
    expect(page.get_by_test_id("login-error")).to_have_text(expected)


def test_cancel_button_cancels_the_running_run(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, "sleep")  # the shared TestModel thinks, then waits 60 s
    run = page.get_by_test_id("run")
    expect(run.locator('[data-testid="step"][data-type="agent_thinking"]')).to_have_count(1)
    page.get_by_test_id("cancel-button").click()
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("cancel-button")).to_be_hidden()


def test_too_many_failed_logins_show_when_to_retry(server: Server, page: Page) -> None:
    username = f"locked_{secrets.token_hex(4)}"
    creds = {"username": username, "password": PASSWORD}
    assert httpx.post(f"{server.base_url}/auth/register", json=creds).status_code == 201
    wrong = {"username": username, "password": "wrong-password"}
    for _ in range(50):  # bounded: a server that never limits fails here, not hangs
        r = httpx.post(f"{server.base_url}/auth/login", json=wrong)
        if r.status_code != 401:
            break
    assert r.status_code == 429, r.text
    retry_after = r.headers["Retry-After"]
    page.goto(server.base_url)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill("wrong-password")
    page.get_by_test_id("login-button").click()
    # The server's message, whose seconds count down, and a number of seconds to wait.
    message = re.escape(r.json()["error"]["message"]).replace(retry_after, r"\d+")
    expect(page.get_by_test_id("login-error")).to_have_text(re.compile(message))
    expect(page.get_by_test_id("login-error")).to_have_text(re.compile(r"\d+ ?s\b"))
