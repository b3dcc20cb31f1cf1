"""The web page's answers and layout in a real browser: Markdown that stays inert, a failed
run that says so, a paced run cancelled midway, and the thread drawer on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from goldpath.models import Message, ScriptedModel, TextDelta
from goldpath.models.scripted import Fail
from goldpath.server import create_app
from tests.e2e.browser import PHONE, ask, new_page, register
from tests.e2e.conftest import Server, make_settings, running

pytestmark = pytest.mark.e2e

# Every way an answer could try to run code in the page. Each would set window.pwned or
# open a dialog if it were ever parsed as HTML or followed as a link.
HOSTILE_ANSWER = """# Results

Some **bold**, some *emphasis*, `inline <b>code</b>`, a [safe link](https://example.com/a?b=1).
One letter: **x** *y*.

<script>window.pwned = "script"; alert("script")</script>

<img src="x" onerror="window.pwned = 'onerror'; alert('onerror')">

A [bad link](javascript:window.pwned='link') and [data](data:text/html,<script>alert(1)</script>).

- first <svg onload="window.pwned = 'svg'">
- second with _emphasis_ and snake_case_name

1. one
2. two

```html
<script>window.pwned = "fence"</script>
```
"""
FAILURE_DETAIL = "HTTP 401 from http://10.0.0.7:8000/v1: check GOLDPATH_OPENAI_API_KEY"
OFFLINE_DELAY_MS = 150  # the intro (~70 words) takes ~10 s: ample time to cancel midway


class PageTestModel:
    """Answers ``markdown`` with `HOSTILE_ANSWER` and fails on ``fail``, as a provider would."""

    def __init__(self) -> None:
        self._markdown = ScriptedModel([[TextDelta(piece) for piece in _pieces(HOSTILE_ANSWER)]])
        self._fail = ScriptedModel([[TextDelta("Let me see"), Fail(FAILURE_DETAIL)]])

    @property
    def name(self) -> str:
        return "page-test"

    def stream(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> Any:
        question = next(m.content for m in reversed(messages) if m.role == "user")
        chosen = self._fail if question == "fail" else self._markdown
        return chosen.stream(messages, tools)


def _pieces(text: str) -> list[str]:
    """Deltas of 7 characters: tags and links arrive cut in pieces, as from a real model."""
    return [text[i : i + 7] for i in range(0, len(text), 7)]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(tmp_path_factory.mktemp("goldpath"))
    with running(settings, create_app(settings, model=PageTestModel())) as server:
        yield server


@pytest.fixture(scope="module")
def paced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The offline model as `goldpath serve` makes it, paced by GOLDPATH_OFFLINE_DELAY_MS."""
    settings = make_settings(tmp_path_factory.mktemp("goldpath"), offline_delay_ms=OFFLINE_DELAY_MS)
    with running(settings, create_app(settings)) as server:
        yield server


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    with new_page(browser, PHONE) as fresh:
        yield fresh


def _watch_for_code(page: Page) -> list[str]:
    """Dialogs the page opens, dismissed and recorded."""
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return dialogs


def _assert_rendered_inert(answer: Any) -> None:
    """The answer's Markdown is structure, and every payload in it is visible text."""
    expect(answer.locator("h3")).to_have_text("Results")
    expect(answer.locator("strong")).to_have_text(["bold", "x"])
    expect(answer.locator("em")).to_have_text(["emphasis", "y", "emphasis"])
    expect(answer.locator("p code")).to_have_text("inline <b>code</b>")
    expect(answer.locator("ul > li")).to_have_count(2)
    expect(answer.locator("ol > li")).to_have_text(["one", "two"])
    expect(answer.locator("pre > code")).to_have_text('<script>window.pwned = "fence"</script>')
    expect(answer.locator("pre > code")).to_have_attribute("data-lang", "html")
    links = answer.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_text("safe link")
    expect(links).to_have_attribute("href", "https://example.com/a?b=1")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(links).to_have_attribute("target", "_blank")
    # Nothing but the renderer's own elements: no script, img, svg or b came from the text.
    tags = answer.evaluate(
        "el => [...new Set([...el.querySelectorAll('*')].map(e => e.localName))].sort()"
    )
    assert tags == ["a", "code", "em", "h3", "li", "ol", "p", "pre", "strong", "ul"]
    handlers = answer.evaluate(
        "el => [...el.querySelectorAll('*')].flatMap(e => e.getAttributeNames())"
        ".filter(n => n.startsWith('on'))"
    )
    assert handlers == []
    text = answer.inner_text()
    for payload in (
        '<script>window.pwned = "script"; alert("script")</script>',
        "<img src=\"x\" onerror=\"window.pwned = 'onerror'; alert('onerror')\">",
        "[bad link](javascript:window.pwned='link')",
        "<svg onload=\"window.pwned = 'svg'\">",
        "snake_case_name",
    ):
        assert payload in text


def test_a_hostile_markdown_answer_renders_as_text_and_runs_nothing(
    scripted: Server, page: Page
) -> None:
    dialogs = _watch_for_code(page)
    register(page, scripted.base_url)
    ask(page, "markdown")
    run = page.get_by_test_id("run")
    expect(run.get_by_test_id("status-badge")).to_have_text("Completed")
    _assert_rendered_inert(run.get_by_test_id("answer"))

    # The same answer, stored and loaded with the thread (drawn from the run's stored
    # events), renders the same way.
    page.reload()
    page.get_by_test_id("thread-item").first.click()
    expect(run.get_by_test_id("status-badge")).to_have_text("Completed")
    _assert_rendered_inert(run.get_by_test_id("answer"))
    expect(page.locator('[data-role="user"] .message-text')).to_have_text("markdown")

    assert page.evaluate("window.pwned") is None
    assert dialogs == []


def test_a_failed_run_reads_failed_with_a_message_for_the_user(
    scripted: Server, page: Page
) -> None:
    register(page, scripted.base_url)
    ask(page, "fail")
    run = page.get_by_test_id("run")
    badge = run.get_by_test_id("status-badge")
    expect(badge).to_have_text("Failed")
    expect(badge).to_have_attribute("data-status", "error")
    error = run.get_by_test_id("run-error")
    expect(error).to_have_text(re.compile(r"^the model could not answer\b"))
    assert FAILURE_DETAIL not in error.inner_text()
    assert "GOLDPATH" not in error.inner_text()
    completed = run.locator('[data-testid="step"][data-type="agent_completed"]')
    expect(completed).to_have_text(re.compile(r"^Failed after \d"))
    expect(run.get_by_test_id("answer")).to_have_text("Let me see")


def test_cancel_stops_a_paced_run_midway(paced: Server, page: Page) -> None:
    register(page, paced.base_url)
    ask(page, "Hello")  # the offline model introduces itself, one word per 150 ms
    run = page.get_by_test_id("run").first
    answer = run.get_by_test_id("answer")
    expect(answer).to_have_attribute("data-deltas", re.compile(r"^([3-9]|\d\d+)$"))
    page.get_by_test_id("cancel-button").click()
    badge = run.get_by_test_id("status-badge")
    expect(badge).to_have_text("Cancelled")
    expect(badge).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("cancel-button")).to_be_hidden()
    deltas, text = answer.get_attribute("data-deltas"), answer.inner_text()

    # A later run of the same thread ends after a run that was still going would have
    # sent more words; the cancelled answer has not grown meanwhile.
    ask(page, "What is 2 + 2?")
    later = page.get_by_test_id("run").nth(1)
    expect(later.get_by_test_id("status-badge")).to_have_text("Completed")
    expect(later.get_by_test_id("answer")).to_have_text("2 + 2 = 4.")
    assert answer.get_attribute("data-deltas") == deltas
    assert answer.inner_text() == text
    assert text.startswith("I am")
    assert "GOLDPATH_MODEL=openai" not in text, "the whole answer arrived: nothing was cancelled"


def test_on_a_phone_the_thread_list_is_a_drawer(scripted: Server, phone: Page) -> None:
    register(phone, scripted.base_url)
    ask(phone, "markdown")
    expect(phone.get_by_test_id("status-badge")).to_have_text("Completed")
    drawer, button = phone.get_by_test_id("drawer"), phone.get_by_test_id("drawer-button")
    overlay, threads = phone.get_by_test_id("drawer-overlay"), phone.get_by_test_id("thread-item")
    expect(drawer).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    # The conversation has the whole width.
    conversation = phone.get_by_test_id("conversation").bounding_box()
    assert conversation is not None
    assert conversation["width"] == PHONE["width"]

    button.click()  # opens; the overlay closes it
    expect(drawer).to_be_visible()
    expect(threads).to_have_count(1)
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(threads.first).to_be_focused()  # the open thread's item, ready for the keyboard
    overlay.click(position={"x": PHONE["width"] - 20, "y": PHONE["height"] // 2})
    expect(drawer).to_be_hidden()
    expect(overlay).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")

    button.click()  # Escape closes it and gives the focus back to the button
    expect(drawer).to_be_visible()
    phone.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(button).to_be_focused()

    button.click()  # choosing "New chat" closes it, and the conversation is ready for input
    phone.get_by_test_id("new-chat").click()
    expect(drawer).to_be_hidden()
    expect(phone.get_by_test_id("empty-state")).to_be_visible()
    expect(phone.get_by_test_id("chat-input")).to_be_focused()

    button.click()  # choosing a thread closes it and shows that thread
    threads.first.click()
    expect(drawer).to_be_hidden()
    expect(phone.get_by_test_id("message")).to_have_count(1)  # the question; the run follows
    expect(phone.get_by_test_id("run").get_by_test_id("status-badge")).to_be_visible()


def test_on_a_desktop_the_thread_list_is_always_there(scripted: Server, page: Page) -> None:
    register(page, scripted.base_url)
    expect(page.get_by_test_id("drawer")).to_be_visible()
    expect(page.get_by_test_id("drawer-button")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("drawer")).to_be_visible()


def test_the_page_has_no_inline_script() -> None:
    """Every script is app.js, so a CSP without 'unsafe-inline' lets the page work."""
    html = (Path(__file__).parents[2] / "src/goldpath/server/static/index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts == [""]
    assert re.search(r'<script src="/static/app.js" defer>', html)
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert "javascript:" not in html
