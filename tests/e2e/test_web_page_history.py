"""Past runs on the web page look as they did live, and a reload mid-run loses nothing.

The page draws each run of a thread from its stored events (``GET /runs/{id}/events``)
with the renderers of live events, then resumes the stream from its last position: a
run in flight goes on with no step or delta missing or twice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.e2e.browser import ask, register
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

# The shared TestModel (tests/e2e/conftest.py) answers "slow N" with N deltas 50 ms apart.
DELTAS = 60
QUESTION = f"slow {DELTAS}"
ANSWER = "".join(f"{i} " for i in range(DELTAS))
RELOAD_AFTER = 5  # deltas seen before the reload


def _run_state(run: Locator) -> dict[str, Any]:
    """What a reader sees of a run: its question, steps, tools, answer and status."""
    state: dict[str, Any] = run.evaluate(
        """root => ({
            question: [...root.querySelectorAll('[data-testid="message"]')]
                .map(m => [m.dataset.role, m.textContent]),
            steps: [...root.querySelectorAll('[data-testid="step"]')]
                .map(s => [s.dataset.type, s.textContent.replace(/[0-9.]+ m?s/g, "T")]),
            answer: root.querySelector('[data-testid="answer"]').textContent,
            status: root.querySelector('[data-testid="status-badge"]').dataset.status,
        })"""
    )
    return state


def test_a_past_run_reads_as_it_did_live(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, "What is 17 * 23?")
    run = page.get_by_test_id("run")
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "ok")
    live = _run_state(run)
    assert [kind for kind, _ in live["steps"]] == [
        "agent_started",
        "agent_thinking",
        "tool",
        "agent_completed",
    ]

    page.reload()
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "ok")
    assert _run_state(run) == live
    expect(page.get_by_test_id("run")).to_have_count(1)


def test_a_reload_mid_run_restores_its_steps_and_answer_then_goes_on(
    server: Server, page: Page
) -> None:
    resumes: list[dict[str, Any]] = []

    def watch(ws: WebSocketRoute) -> None:
        server_side = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "resume":
                resumes.append(frame)
            server_side.send(message)

        ws.on_message(to_server)
        server_side.on_message(ws.send)

    page.route_web_socket("**/ws", watch)
    register(page, server.base_url)
    ask(page, QUESTION)
    page.wait_for_function(
        "n => +document.querySelector('[data-testid=answer]')?.dataset.deltas >= n",
        arg=RELOAD_AFTER,
        timeout=15_000,
    )
    before = page.evaluate("JSON.parse(sessionStorage.getItem('goldpath.stream'))")

    page.reload()
    run = page.get_by_test_id("run")
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "ok")
    answer = run.get_by_test_id("answer")
    # Every delta exactly once, in order: the first ones from the stored events (the
    # resume asks only for what came after the reload), the rest replayed and live.
    expect(answer).to_have_attribute("data-deltas", str(DELTAS))
    assert answer.text_content() == ANSWER
    kinds = run.get_by_test_id("step").evaluate_all("els => els.map(e => e.dataset.type)")
    assert kinds == ["agent_started", "agent_thinking", "agent_completed"]
    expect(page.get_by_test_id("message")).to_have_count(1)
    expect(page.get_by_test_id("run")).to_have_count(1)
    # The page resumed from where it was at the reload (at or after the position read just
    # before it), so the run's first events and deltas were not replayed: they were restored.
    resume = resumes[-1]
    assert (resume["epoch"], len(resumes)) == (before["epoch"], 1)
    assert resume["offset"] >= before["offset"]
