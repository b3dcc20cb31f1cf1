"""The web page's agent picker, in a real browser: shown when the server runs more than one
agent, and the chat runs the agent picked."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from playwright.sync_api import Page, expect

from goldpath import Agent, Emitter, MessageDelta, UserExecutionContext
from goldpath.models import ChatModel, Message
from goldpath.server import create_app
from goldpath.tools import ToolDispatcher
from tests.e2e.browser import ask, register
from tests.e2e.conftest import Server, make_settings, running

pytestmark = pytest.mark.e2e


class Shouter(Agent):
    """Says it back in capitals."""

    name = "shouter"

    def answer(self, message: str) -> str:
        return message.upper()

    async def run(
        self,
        context: UserExecutionContext,
        message: str,
        *,
        emitter: Emitter,
        tools: ToolDispatcher,
        model: ChatModel,
        history: Sequence[Message] = (),
    ) -> str:
        text = self.answer(message)
        await emitter.emit(MessageDelta(text))
        return text


class Whisperer(Shouter):
    """Says it back in small letters."""

    name = "whisperer"

    def answer(self, message: str) -> str:
        return message.lower()


@pytest.fixture(scope="module")
def two_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = make_settings(tmp_path_factory.mktemp("goldpath"))
    with running(settings, create_app(settings, agents=[Shouter, Whisperer])) as srv:
        yield srv


def test_the_picker_runs_the_agent_picked(two_agents: Server, page: Page) -> None:
    register(page, two_agents.base_url)
    picker = page.get_by_test_id("agent-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_text(["shouter", "whisperer"])
    expect(picker.locator("option").nth(1)).to_have_attribute(
        "title", "Says it back in small letters."
    )
    expect(picker).to_have_value("shouter")  # the default agent first
    ask(page, "Hello There")
    expect(page.get_by_test_id("answer").last).to_have_text("HELLO THERE")
    picker.select_option("whisperer")
    ask(page, "Hello Again")
    expect(page.get_by_test_id("answer").last).to_have_text("hello again")
    expect(page.get_by_test_id("answer")).to_have_count(2)


def test_one_agent_means_no_picker(server: Server, page: Page) -> None:
    register(page, server.base_url)
    ask(page, "What is 2 + 3?")
    expect(page.get_by_test_id("answer").last).to_contain_text("5")
    expect(page.get_by_test_id("agent-picker-label")).to_be_hidden()
