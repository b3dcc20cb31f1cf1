"""`goldpath chat` against the real server on a loopback port, over real HTTP and WebSocket."""

from __future__ import annotations

import io
import socket
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from goldpath.cli import app
from goldpath.cli._client import ChatSession
from goldpath.cli._render import EventRenderer
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
QUESTION = "What is 17 * 23?"


@pytest.fixture
def url(server: Server) -> str:
    """The module's server (offline model; ``slow N`` messages stream N deltas 50 ms apart)."""
    return server.base_url


def chat(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, ["chat", *args], input=input)


def test_one_message_shows_every_step_of_the_run(url: str) -> None:
    result = chat("--url", url, "--username", "alice", "--password", PASSWORD, "--register",
                  "-m", QUESTION)  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "▶ started" in out
    assert "… thinking:" in out
    assert '⚙ calculator {"expression": "17 * 23"}' in out
    assert "✓ calculator → 391 (" in out
    assert "17 * 23 = 391." in out
    assert "■ completed ok (" in out
    assert out.index("⚙ calculator") < out.index("✓ calculator") < out.index("■ completed ok")


def test_register_twice_logs_in_and_a_thread_can_be_continued(url: str) -> None:
    first = chat("--url", url, "--username", "bob", "--password", PASSWORD, "--register",
                 "-m", "What is 2 + 2?")  # fmt: skip
    assert first.exit_code == 0, first.output
    thread_id = first.stdout.strip().splitlines()[-1].removeprefix("thread ")
    again = chat("--url", url, "--username", "bob", "--password", PASSWORD, "--register",
                 "--thread", thread_id, "-m", "What is 3 * 3?")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert f"thread {thread_id}" in again.stdout
    assert "3 * 3 = 9." in again.stdout


def test_credentials_come_from_the_environment_or_a_prompt(url: str) -> None:
    env = {"GOLDPATH_URL": url, "GOLDPATH_USERNAME": "carol"}
    result = CliRunner(env=env).invoke(
        app, ["chat", "--register", "-m", QUESTION], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert PASSWORD not in result.output
    assert "■ completed ok" in result.stdout


def test_a_wrong_password_is_refused_clearly(url: str) -> None:
    created = httpx.post(f"{url}/auth/register", json={"username": "dave", "password": PASSWORD})
    assert created.status_code == 201
    result = chat("--url", url, "--username", "dave", "--password", "not the password",
                  "-m", QUESTION)  # fmt: skip
    assert result.exit_code == 1
    assert "login failed: wrong username or password" in result.stderr
    assert "--register" not in result.stderr  # the account exists: registering is no fix


def test_an_unreachable_server_is_named_with_a_hint() -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"http://127.0.0.1:{port}"
    result = chat("--url", closed, "--username", "erin", "--password", PASSWORD, "-m", QUESTION)
    assert result.exit_code == 1
    assert f"cannot reach goldpath at {closed}: is `goldpath serve` running?" in result.stderr


def test_a_message_over_the_limit_is_explained_and_fails(url: str) -> None:
    result = chat("--url", url, "--username", "frank", "--password", PASSWORD, "--register",
                  "-m", "x" * 32_001)  # fmt: skip
    assert result.exit_code == 1
    assert "message too large" in result.stdout


def test_the_interactive_prompt_runs_each_line_and_ctrl_d_exits(url: str) -> None:
    result = chat("--url", url, "--username", "grace", "--password", PASSWORD, "--register",
                  input=f"{QUESTION}\n\nWhat is 2 + 2?\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("■ completed ok") == 2
    assert "2 + 2 = 4." in result.stdout


async def test_a_dropped_socket_is_resumed_and_no_event_is_shown_twice(url: str) -> None:
    out = io.StringIO()
    deltas: list[str] = []

    class DropOnce(EventRenderer):
        """Records the deltas it shows and cuts the socket under the client after the third."""

        def render(self, frame: Mapping[str, Any]) -> None:
            super().render(frame)
            if frame.get("type") == "message_delta":
                deltas.append(frame["data"]["delta"])
                if len(deltas) == 3:
                    assert session._ws is not None
                    session._ws.transport.abort()

    console = Console(file=out, width=200, color_system=None)
    session = ChatSession(url, "heidi", PASSWORD, DropOnce(console), register=True)
    async with session:
        outcome = await session.chat("slow 10")
    text = out.getvalue()
    assert outcome.status == "ok"
    assert "connection lost; reconnecting" in text
    assert "↻ reconnected:" in text
    assert deltas == [f"{i} " for i in range(10)]
    assert text.count("■ completed ok") == 1


def test_the_prompt_has_help_new_and_quit_and_names_the_thread_on_leaving(url: str) -> None:
    lines = ["What is 2 + 3?", "/help", "/new", "What is 4 * 5?", "/nonsense", "/quit", "never"]
    result = chat("--url", url, "--username", "ivan", "--password", PASSWORD, "--register",
                  input="\n".join(lines) + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "/help  show these commands" in result.stdout
    assert "/new   start a new thread with the next message" in result.stdout
    assert "the next message starts a new thread" in result.stdout
    assert "unknown command /nonsense; /help lists the commands" in result.stderr
    assert result.stdout.count("■ completed ok") == 2  # "never" came after /quit
    token = httpx.post(f"{url}/auth/login", json={"username": "ivan", "password": PASSWORD}).json()[
        "access_token"
    ]
    threads = httpx.get(f"{url}/threads", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(threads) == 2  # /new started the second
    assert result.stdout.rstrip().endswith(f"thread {threads[0]['thread_id']}")


def test_a_missing_thread_is_not_offered_for_continuing(url: str) -> None:
    result = chat("--url", url, "--username", "judy", "--password", PASSWORD, "--register",
                  "--thread", "thr_missing", "-m", QUESTION)  # fmt: skip
    assert result.exit_code == 1
    assert "not found" in result.stdout
    assert "thread thr_missing" not in result.stdout


def test_the_prompt_leaves_a_missing_thread_for_a_new_one(url: str) -> None:
    result = chat("--url", url, "--username", "mallory", "--password", PASSWORD, "--register",
                  "--thread", "thr_missing", input=f"{QUESTION}\nWhat is 2 + 2?\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("✗ not found") == 1  # the first message only
    assert "2 + 2 = 4." in result.stdout
    assert "thread thr_missing" not in result.stdout
