"""The web page's approval card: a run waiting for a person shows the call, and the person
approves it (the args edited or not) or rejects it, here or in another tab, live or after
a reload. The tool's own record says what really ran."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from goldpath import tool
from goldpath.models import Message, ModelOutput, ScriptedModel, TextDelta, ToolCall
from goldpath.server import create_app
from tests.e2e.browser import PASSWORD, SocketProxy, ask, new_page, register
from tests.e2e.conftest import Server, make_settings, running

pytestmark = pytest.mark.e2e

ANSWER = "All done."
deleted: list[str] = []  # the titles delete_note really deleted, in order


@tool(requires_approval=True)
async def delete_note(title: str) -> str:
    """Delete the note with this title."""
    deleted.append(title)
    return f"deleted {title!r}"


class NotesModel:
    """Answers ``delete <title>[ and <title>...]`` by calling delete_note on each title (all
    in one turn), then ``ANSWER``."""

    @property
    def name(self) -> str:
        return "notes"

    def stream(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        question = next(m.content for m in reversed(messages) if m.role == "user")
        titles = question.removeprefix("delete ").split(" and ")
        calls = [ToolCall(f"call_{i}", "delete_note", {"title": t}) for i, t in enumerate(titles)]
        return ScriptedModel([calls, [TextDelta(ANSWER)]]).stream(messages, tools)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(tmp_path_factory.mktemp("approvals-web"))
    app = create_app(settings, tools=[delete_note], model=NotesModel())
    with running(settings, app) as srv:
        yield srv


def _waiting_card(page: Page, title: str) -> Locator:
    """The card of the run that asked to delete ``title``, checked as it first shows."""
    run = page.get_by_test_id("run").last
    card = run.get_by_test_id("approval")
    expect(card).to_have_attribute("data-state", "waiting")
    expect(card.get_by_test_id("approval-tool")).to_have_text("delete_note")
    assert json.loads(card.get_by_test_id("approval-args").input_value()) == {"title": title}
    badge = run.get_by_test_id("status-badge")
    expect(badge).to_have_text("Waiting for your approval")
    expect(badge).to_have_attribute("data-status", "waiting")
    expect(page.get_by_test_id("cancel-button")).to_be_visible()
    return card


def _finished(page: Page, outcome: str) -> Locator:
    """The last run, once it ended ok with its card answered ``outcome``."""
    run = page.get_by_test_id("run").last
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "ok")
    expect(run.get_by_test_id("approval")).to_have_attribute("data-outcome", outcome)
    expect(run.get_by_test_id("answer")).to_have_text(ANSWER)
    return run


def test_edited_args_are_checked_then_approved_and_the_tool_runs_with_them(
    server: Server, page: Page
) -> None:
    proxy = SocketProxy(page)
    register(page, server.base_url)
    ask(page, "delete groceries")
    card = _waiting_card(page, "groceries")
    args, error = card.get_by_test_id("approval-args"), card.get_by_test_id("approval-error")
    approve = card.get_by_test_id("approve-button")
    expect(approve).to_be_focused()  # the keyboard is taken to the card
    expect(page.get_by_test_id("announcer")).to_have_text(
        "delete_note is waiting for your approval."
    )

    args.fill('{"title": ')  # not JSON: said under the args, and nothing is sent
    approve.click()
    expect(error).to_contain_text("not valid JSON")
    expect(args).to_have_attribute("aria-invalid", "true")
    expect(args).to_be_focused()
    args.fill('["groceries"]')  # JSON, but not an object
    expect(error).to_be_hidden()  # editing clears the message
    approve.click()
    expect(error).to_contain_text("must be a JSON object")
    assert proxy.sent("approve") == []
    args.fill('{"title": "nul\\u0000"}')  # an object the server refuses: its reason shows
    approve.click()
    expect(error).to_contain_text("NUL")
    expect(card).to_have_attribute("data-state", "waiting")
    expect(approve).to_be_focused()
    expect(page.get_by_test_id("chat-error")).to_be_hidden()

    args.fill('{"title": "old groceries"}')
    approve.click()
    record = card.get_by_test_id("approval-record")
    run = _finished(page, "approve")
    expect(record).to_have_text("Approved: delete_note")
    expect(record).to_be_focused()  # the focus stays where the card was
    tool_step = run.get_by_test_id("tool-step")
    expect(tool_step.get_by_test_id("tool-name")).to_have_text("delete_note")
    assert json.loads(tool_step.get_by_test_id("tool-args").text_content() or "") == {
        "title": "old groceries"
    }
    expect(tool_step.get_by_test_id("tool-result")).to_have_text("deleted 'old groceries'")
    assert deleted.count("old groceries") == 1
    assert "groceries" not in deleted
    refused, frame = proxy.sent("approve")
    assert refused["args"] == {"title": "nul\x00"}
    assert frame["decision"] == "approve"
    assert frame["args"] == {"title": "old groceries"}


def test_a_rejected_call_never_runs_and_the_reason_is_sent(server: Server, page: Page) -> None:
    proxy = SocketProxy(page)
    register(page, server.base_url)
    ask(page, "delete taxes")
    card = _waiting_card(page, "taxes")
    card.get_by_test_id("approval-reason").fill("keep it, the audit is next month")
    card.get_by_test_id("reject-button").click()
    run = _finished(page, "reject")
    expect(card.get_by_test_id("approval-record")).to_have_text("Rejected: delete_note")
    expect(run.get_by_test_id("tool-step")).to_have_count(0)
    assert "taxes" not in deleted
    [frame] = proxy.sent("approve")
    assert frame["decision"] == "reject"
    assert "args" not in frame
    assert frame["reason"] == "keep it, the audit is next month"


def test_a_reload_while_waiting_shows_the_card_again_and_it_still_works(
    server: Server, page: Page
) -> None:
    proxy = SocketProxy(page)
    register(page, server.base_url)
    ask(page, "delete drafts")
    _waiting_card(page, "drafts")

    page.reload()  # the run is drawn from its stored events: still waiting
    card = _waiting_card(page, "drafts")
    expect(page.get_by_test_id("approval")).to_have_count(1)
    approve = card.get_by_test_id("approve-button")
    expect(approve).to_be_focused()
    page.keyboard.press("Enter")  # the keyboard alone answers
    run = _finished(page, "approve")
    assert json.loads(run.get_by_test_id("tool-args").text_content() or "") == {"title": "drafts"}
    assert deleted.count("drafts") == 1
    [frame] = proxy.sent("approve")
    assert "args" not in frame  # unedited args are not sent


def test_a_resumed_socket_brings_the_card_that_was_lost_with_the_old_one(
    server: Server, page: Page
) -> None:
    proxy = SocketProxy(page)
    proxy.drop_when = lambda frame: frame.get("type") == "approval_requested"
    register(page, server.base_url)
    ask(page, "delete receipts")
    card = _waiting_card(page, "receipts")  # from the resume's replay
    assert len(proxy.connections) == 2
    assert proxy.connections[1].sent[1]["type"] == "resume"
    card.get_by_test_id("approve-button").click()
    _finished(page, "approve")
    assert deleted.count("receipts") == 1


def test_an_answer_lost_with_the_socket_can_be_given_again(server: Server, page: Page) -> None:
    proxy = SocketProxy(page)
    proxy.drop_sent_when = lambda frame: frame.get("type") == "approve"
    register(page, server.base_url)
    ask(page, "delete letters")
    card = _waiting_card(page, "letters")
    approve = card.get_by_test_id("approve-button")
    approve.click()  # never reaches the server: the socket drops instead
    expect(card).to_have_attribute("data-state", "waiting")  # the controls come back
    expect(approve).to_be_focused()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")
    assert len(proxy.connections) == 2
    assert "letters" not in deleted
    approve.click()
    _finished(page, "approve")
    assert deleted.count("letters") == 1
    assert len(proxy.sent("approve")) == 1  # the lost one was never sent


def test_a_call_answered_in_another_tab_resolves_the_card_here(
    server: Server, page: Page, browser: Browser
) -> None:
    proxy = SocketProxy(page)
    username = register(page, server.base_url)
    ask(page, "delete journal")
    here = _waiting_card(page, "journal")

    with new_page(browser) as other:
        other.goto(server.base_url)
        other.get_by_test_id("login-username").fill(username)
        other.get_by_test_id("login-password").fill(PASSWORD)
        other.get_by_test_id("login-button").click()
        other.get_by_test_id("thread-item").click()
        there = _waiting_card(other, "journal")
        proxy.hold_events = True  # this tab hears of the other's answer only later
        there.get_by_test_id("approve-button").click()
        expect(there).to_have_attribute("data-outcome", "approve")

    here.get_by_test_id("approve-button").click()  # too late: a conflict
    expect(here.get_by_test_id("approval-note")).to_have_text(
        "This call was already answered elsewhere."
    )
    expect(here.get_by_test_id("approve-button")).to_be_disabled()
    expect(page.get_by_test_id("chat-error")).to_be_hidden()
    proxy.release()
    _finished(page, "approve")
    assert deleted.count("journal") == 1


def test_cancel_ends_a_waiting_run_and_its_call_never_runs(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, "delete diary")
    card = _waiting_card(page, "diary")
    page.get_by_test_id("cancel-button").click()
    run = page.get_by_test_id("run").last
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "cancelled")
    expect(card.get_by_test_id("approval-record")).to_have_text(
        "Not answered: delete_note (the run ended)"
    )
    expect(run.get_by_test_id("tool-step")).to_have_count(0)
    expect(page.get_by_test_id("cancel-button")).to_be_hidden()
    assert "diary" not in deleted


def test_two_calls_of_one_run_are_answered_one_by_one(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, "delete bills and photos")
    _waiting_card(page, "bills")
    run = page.get_by_test_id("run").last
    first, second = (
        run.locator(f'[data-testid=approval][data-call-id="call_{i}"]') for i in (0, 1)
    )
    first.get_by_test_id("approve-button").click()
    expect(first).to_have_attribute("data-outcome", "approve")
    expect(second).to_have_attribute("data-state", "waiting")
    assert json.loads(second.get_by_test_id("approval-args").input_value()) == {"title": "photos"}
    expect(second.get_by_test_id("approve-button")).to_be_focused()
    expect(run.get_by_test_id("status-badge")).to_have_text("Waiting for your approval")
    second.get_by_test_id("reject-button").click()
    expect(second).to_have_attribute("data-outcome", "reject")
    expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "ok")
    expect(run.get_by_test_id("answer")).to_have_text(ANSWER)
    kinds = run.locator("[data-testid=step], [data-testid=approval]").evaluate_all(
        "els => els.map(e => e.dataset.type)"
    )
    assert kinds == ["agent_started", "approval", "tool", "approval", "agent_completed"]
    assert deleted.count("bills") == 1
    assert "photos" not in deleted


def test_a_call_nobody_answers_in_time_reads_timed_out(tmp_path: Path, page: Page) -> None:
    settings = make_settings(tmp_path, approval_timeout=0.5, lease_seconds=0.5)
    app = create_app(settings, tools=[delete_note], model=NotesModel())
    with running(settings, app) as srv:
        register(page, srv.base_url)
        ask(page, "delete postcards")
        card = _waiting_card(page, "postcards")
        run = page.get_by_test_id("run").last
        expect(run.get_by_test_id("status-badge")).to_have_attribute("data-status", "timeout")
        expect(card).to_have_attribute("data-outcome", "timeout")
        expect(card.get_by_test_id("approval-record")).to_have_text(
            "Timed out: delete_note was not approved in time"
        )
        expect(card.get_by_test_id("approval-record")).to_be_focused()
    assert "postcards" not in deleted


HOSTILE = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>"


def test_hostile_args_are_shown_as_text_and_run_nothing(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, f"delete {HOSTILE}")
    card = _waiting_card(page, HOSTILE)
    card.get_by_test_id("approve-button").click()
    run = _finished(page, "approve")
    assert json.loads(run.get_by_test_id("tool-args").text_content() or "") == {"title": HOSTILE}
    expect(run.get_by_test_id("tool-result")).to_contain_text(HOSTILE)
    conversation = page.get_by_test_id("conversation")
    expect(conversation.locator("img, script")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert deleted.count(HOSTILE) == 1
