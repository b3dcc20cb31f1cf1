"""`goldpath chat` and calls that wait for approval, against the real server's notes demo.

Each case runs the real console entry point in a fresh process with its stdin fed (a pipe,
not a terminal), as a script or a person typing would.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from goldpath.cli._approvals import Approver
from goldpath.cli._client import ChatSession
from goldpath.cli._render import EventRenderer
from tests.e2e.conftest import Server, User, make_settings, new_user, running

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
DELETE = "Delete the note groceries"
ASKED = '⏸ approval needed: delete_note {"title": "groceries"}'


def goldpath_chat(server: Server, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``goldpath chat`` as a fresh user of ``server``, ``stdin`` fed through a pipe."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    user = f"cli_{uuid.uuid4().hex[:10]}"
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from goldpath.cli import main; main()",
            "chat",
            "--url",
            server.base_url,
            "--username",
            user,
            "--password",
            PASSWORD,
            "--register",
            *args,
        ],
        env={**clean, "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_one_shot_in_a_pipe_rejects_without_hanging_and_says_how_to_approve(
    server: Server,
) -> None:
    done = goldpath_chat(server, "-m", DELETE)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert ASKED in out
    assert "rejected without asking: stdin is not a terminal" in out
    assert "--approvals approve" in out
    assert "✗ rejected" in out
    assert "⚙ delete_note" not in out
    assert "I did not delete the note 'groceries', because you rejected it." in out
    assert "■ completed ok" in out
    assert out.index(ASKED) < out.index("✗ rejected") < out.index("■ completed ok")


def test_approvals_approve_runs_the_call_once(server: Server) -> None:
    done = goldpath_chat(server, "--approvals", "approve", "-m", DELETE)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "approved (--approvals approve)" in out
    assert out.count('⚙ delete_note {"title": "groceries"}') == 1
    assert "Deleted the note 'groceries'. Your notes now: 'ideas', 'reading list'." in out
    assert out.index(ASKED) < out.index("✓ approved") < out.index("⚙ delete_note")


def test_approvals_reject_says_so(server: Server) -> None:
    done = goldpath_chat(server, "--approvals", "reject", "-m", DELETE)
    assert done.returncode == 0, done.stderr
    assert "rejected (--approvals reject)" in done.stdout
    assert "You said: rejected by --approvals reject" in done.stdout


def test_asking_reads_the_answer_and_a_reason_from_stdin(server: Server) -> None:
    done = goldpath_chat(server, "--approvals", "ask", "-m", DELETE, stdin="maybe\nn\nnot today\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Approve? [y/n/e(dit)]" in out
    assert "answer y to approve delete_note, n to reject it, or e to edit its args" in out
    assert "Reason (optional, Enter for none):" in out
    assert "I did not delete the note 'groceries', because you rejected it. " in out
    assert "You said: not today" in out


def test_editing_the_args_asks_again_until_they_are_a_json_object(server: Server) -> None:
    typed = 'e\n{"title": \n["ideas"]\n{"title": "ideas"}\n'
    done = goldpath_chat(server, "--approvals", "ask", "-m", DELETE, stdin=typed)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert 'Enter keeps {"title": "groceries"}' in out
    assert "that is not valid JSON (" in out
    assert "the args must be a JSON object {...}, not list; try again" in out
    assert '⚙ delete_note {"title": "ideas"}' in out
    assert "Deleted the note 'ideas'." in out


def test_the_end_of_the_input_while_asking_rejects(server: Server) -> None:
    done = goldpath_chat(server, "--approvals", "ask", "-m", DELETE, stdin="")
    assert done.returncode == 0, done.stderr
    assert "rejected: the input ended before an answer" in done.stdout
    assert "You said: the input ended before an answer" in done.stdout


def test_the_prompt_asks_then_goes_on_with_the_next_message(server: Server) -> None:
    typed = f"{DELETE}\ny\nWhat notes do I have?\n"
    done = goldpath_chat(server, "--approvals", "ask", stdin=typed)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "✓ approved" in out
    assert "Deleted the note 'groceries'." in out
    assert "Your notes: 'ideas', 'reading list'." in out
    assert out.index("Deleted the note") < out.index("Your notes: 'ideas'")


def test_an_unknown_approvals_mode_is_a_usage_error(server: Server) -> None:
    done = goldpath_chat(server, "--approvals", "sometimes", "-m", DELETE)
    assert done.returncode == 2
    assert "--approvals must be ask, approve or reject, not 'sometimes'" in done.stderr


def test_ctrl_c_while_asking_cancels_the_run_and_enter_ends_the_question(
    server: Server,
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    user = f"cli_{uuid.uuid4().hex[:10]}"
    command = [sys.executable, "-c", "from goldpath.cli import main; main()", "chat",
               "--url", server.base_url, "--username", user, "--password", PASSWORD,
               "--register", "--approvals", "ask", "-m", DELETE]  # fmt: skip
    with subprocess.Popen(
        command,
        env={**clean, "COLUMNS": "200"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        seen = ""
        while "Approve? [y/n/e(dit)]" not in seen:  # the question is asked: Ctrl-C now
            piece = child.stdout.read(1)
            assert piece, f"the client ended before asking: {seen}"
            seen += piece
        child.send_signal(signal.SIGINT)
        while "Enter ends the question" not in seen:
            piece = child.stdout.read(1)
            assert piece, f"the client ended before noting the cancel: {seen}"
            seen += piece
        rest, _ = child.communicate("\n", timeout=60)  # Enter ends the question
    out = seen + rest
    assert child.returncode == 1
    assert "■ completed cancelled" in out
    assert "approved" not in out
    assert "⚙ delete_note" not in out


async def test_an_answer_lost_with_the_socket_is_sent_again_and_the_call_runs_once(
    server: Server,
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)

    class DropOnRequest(EventRenderer):
        """Cuts the socket under the client as the approval request is shown: the answer
        goes out on a dead socket and must reach the server after the reconnect."""

        def render(self, frame: Mapping[str, Any]) -> None:
            super().render(frame)
            if frame.get("type") == "approval_requested":
                assert session._ws is not None
                session._ws.transport.abort()

    session = ChatSession(
        server.base_url,
        f"cli_{uuid.uuid4().hex[:10]}",
        PASSWORD,
        DropOnRequest(console),
        register=True,
        approver=Approver("approve", console),
    )
    async with session, asyncio.timeout(30):  # a lost answer would leave it waiting forever
        outcome = await session.chat(DELETE)
    text = out.getvalue()
    assert outcome.status == "ok", text
    assert "connection lost; reconnecting" in text
    assert text.count("✓ approved") == 1
    assert text.count("⚙ delete_note") == 1
    assert "conflict" not in text
    assert "Deleted the note 'groceries'." in text


def _start_sleeping_run(base_url: str, user: User) -> str:
    """A run of ``user`` that holds its run slot for a minute (the test model's ``sleep``)."""
    thread = httpx.post(f"{base_url}/threads", json={}, headers=user.headers)
    started = httpx.post(
        f"{base_url}/threads/{thread.json()['thread_id']}/runs",
        json={"message": "sleep"},
        headers=user.headers,
    )
    assert started.status_code == 202, started.text
    return str(started.json()["run_id"])


def _cancel_and_wait(base_url: str, user: User, run_id: str) -> None:
    httpx.post(f"{base_url}/runs/{run_id}/cancel", headers=user.headers)
    while httpx.get(f"{base_url}/runs/{run_id}", headers=user.headers).json()["status"] == (
        "running"
    ):
        time.sleep(0.02)  # polls the run's stored state, the event this waits for


async def test_an_answer_refused_at_the_run_limit_is_asked_again(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_runs_per_user=1)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
            user = await new_user(http, "limited")
        asked: list[str] = []

        def read(_prompt: str) -> str:
            """The first answer comes while another run holds the user's only slot; the
            next, once that run has ended."""
            asked.append("y")
            if len(asked) == 1:
                asked.append(_start_sleeping_run(srv.base_url, user))
            elif len(asked) == 3:
                _cancel_and_wait(srv.base_url, user, asked[1])
            return "y"

        out = io.StringIO()
        console = Console(file=out, width=200, color_system=None)
        approver = Approver("ask", console, read=read)
        renderer = EventRenderer(console)
        session = ChatSession(
            srv.base_url, user.username, user.password, renderer, approver=approver
        )
        async with session, asyncio.timeout(30):
            outcome = await session.chat(DELETE)
    text = out.getvalue()
    assert outcome.status == "ok", text
    assert "rate limited" in text
    assert "the call still waits for your answer" in text
    assert text.count("⚙ delete_note") == 1
    assert "Deleted the note 'groceries'." in text


async def test_an_answer_refused_without_asking_leaves_the_run_waiting_and_says_where(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, max_runs_per_user=1)
    with running(settings) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
            user = await new_user(http, "limited")
        sleeping: list[str] = []

        class FillTheSlot(EventRenderer):
            """Starts another run as the call asks for approval: it takes the only slot."""

            def render(self, frame: Mapping[str, Any]) -> None:
                super().render(frame)
                if frame.get("type") == "approval_requested":
                    sleeping.append(_start_sleeping_run(srv.base_url, user))

        out = io.StringIO()
        console = Console(file=out, width=200, color_system=None)
        approver = Approver("approve", console)
        session = ChatSession(
            srv.base_url, user.username, user.password, FillTheSlot(console), approver=approver
        )
        async with session, asyncio.timeout(30):
            outcome = await session.chat(DELETE)
        text = out.getvalue()
        assert outcome.status == "waiting", text
        assert "rate limited" in text
        assert f"the run {outcome.run_id} still waits for approval" in text
        assert "⚙ delete_note" not in text
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
            run = await http.get(f"/runs/{outcome.run_id}", headers=user.headers)
            assert run.json()["status"] == "waiting"
            await http.post(f"/runs/{sleeping[0]}/cancel", headers=user.headers)


async def test_a_resync_finds_the_call_the_run_waits_for_and_asks_it(server: Server) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)

    class StaleAtStart(EventRenderer):
        """Cuts the socket as the run starts, with a stream position the server cannot
        resume from: the client reconnects to a ``resync`` and must reload the run."""

        def render(self, frame: Mapping[str, Any]) -> None:
            super().render(frame)
            if frame.get("type") == "agent_started":
                assert session._ws is not None
                session._epoch = "an-epoch-the-server-never-had"
                session._ws.transport.abort()

    session = ChatSession(
        server.base_url,
        f"cli_{uuid.uuid4().hex[:10]}",
        PASSWORD,
        StaleAtStart(console),
        register=True,
        approver=Approver("approve", console),
    )
    async with session, asyncio.timeout(30):
        outcome = await session.chat(DELETE)
    text = out.getvalue()
    assert outcome.status == "ok", text
    assert "↻ reconnected, history lost" in text
    assert text.count(ASKED) == 1
    assert text.count("approved (--approvals approve)") == 1
    assert "conflict" not in text
    assert "Deleted the note 'groceries'." in text
