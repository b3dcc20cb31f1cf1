"""`goldpath chat`: talk to a running goldpath server from the terminal.

The protocol client lives in `goldpath.cli._client`; it is imported inside the command so
that ``goldpath --help`` does not load httpx, websockets and rich.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from goldpath.cli._app import app
from goldpath.cli._errors import USAGE, fail

if TYPE_CHECKING:
    from rich.console import Console

    from goldpath.cli._client import ChatSession

__all__ = ["chat"]


@app.command("chat", short_help="Chat with a server, every step of each run live.")
def chat(
    username: Annotated[
        str | None,
        typer.Option(
            envvar="GOLDPATH_USERNAME",
            metavar="NAME",
            help="Account to log in as (asked for when missing).",
        ),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="GOLDPATH_PASSWORD",
            metavar="PASSWORD",
            help="Password of the account (asked for, hidden, when missing).",
        ),
    ] = None,
    url: Annotated[
        str,
        typer.Option(envvar="GOLDPATH_URL", metavar="URL", help="Address of the goldpath server."),
    ] = "http://127.0.0.1:8000",
    register: Annotated[
        bool,
        typer.Option(
            "--register", help="Create the account first if it does not exist yet, then log in."
        ),
    ] = False,
    thread: Annotated[
        str | None,
        typer.Option(
            metavar="THREAD_ID", help="Continue this thread instead of starting a new one."
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Agent to run (GET /agents lists them; the server's default when omitted).",
        ),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(
            "-m",
            "--message",
            metavar="TEXT",
            help="Send this one message, show its run and exit: 0 when the run ended ok, "
            "1 otherwise. Without it, an interactive prompt: Ctrl-C cancels a run, Ctrl-D exits.",
        ),
    ] = None,
    approvals: Annotated[
        str | None,
        typer.Option(
            metavar="ask|approve|reject",
            help="How to answer a tool call that waits for your approval: ask (y/n/e(dit)), "
            "approve or reject every one. Default: ask when stdin is a terminal, else reject "
            "(a script never hangs on a question).",
        ),
    ] = None,
) -> None:
    """Chat with a goldpath server: every step of each run is shown as it happens."""
    from rich.console import Console

    from goldpath.cli._approvals import MODES, Approver, default_mode, terminal_editor
    from goldpath.cli._client import ChatClientError, ChatSession, check_reachable, websocket_url
    from goldpath.cli._render import EventRenderer

    if approvals is not None and approvals not in MODES:
        fail(f"--approvals must be ask, approve or reject, not {approvals!r}", USAGE)
    try:
        websocket_url(url)
    except ChatClientError as exc:
        fail(str(exc), USAGE)
    try:  # before asking for a password that could not be used
        check_reachable(url)
    except ChatClientError as exc:
        fail(str(exc))
    if username is None:
        username = str(typer.prompt("Username"))
    if password is None:
        password = str(typer.prompt("Password", hide_input=True))
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    mode = next((m for m in MODES if m == approvals), default_mode(sys.stdin.isatty()))
    approver = Approver(
        mode,
        console,
        explicit=approvals is not None,
        edit=terminal_editor(),
    )
    session = ChatSession(
        url,
        username,
        password,
        EventRenderer(console),
        register=register,
        agent=agent,
        approver=approver,
    )
    try:
        if message is not None:
            ok = asyncio.run(_one_shot(session, message, thread))
        else:
            ok = _interactive(session, console, errors, thread)
    except ChatClientError as exc:
        errors.print(f"error: {exc}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    raise typer.Exit(0 if ok else 1)


async def _one_shot(session: ChatSession, message: str, thread: str | None) -> bool:
    async with session:
        await session.login()
        outcome = await session.chat(message, thread)
    if outcome.thread_id:
        session.renderer.console.print(f"thread {outcome.thread_id}", style="dim", markup=False)
    return outcome.status == "ok"


_COMMANDS = (
    ("/help", "show these commands"),
    ("/new", "start a new thread with the next message"),
    ("/quit", "leave (Ctrl-D too); Ctrl-C cancels a run in flight"),
)


def _interactive(
    session: ChatSession, console: Console, errors: Console, thread: str | None
) -> bool:
    """A prompt loop on one event loop, so the connection lives across messages.

    Lines starting with ``/`` are commands (`_COMMANDS`); on leaving, the thread id is
    printed, as with ``-m``, so the conversation can be continued with ``--thread``.
    """
    from goldpath.cli._client import ChatClientError

    with asyncio.Runner() as runner:
        try:
            runner.run(session.login())
            console.print(f"logged in at {session.url}; /help lists the commands", style="dim")
            while True:
                try:
                    text = console.input("[bold]you ›[/] ").strip()
                except KeyboardInterrupt:
                    console.print()
                    continue
                except EOFError:
                    console.print()
                    break
                if not text:
                    continue
                if text.startswith("/"):
                    command = text.split()[0].lower()
                    if command == "/quit":
                        break
                    if command == "/new":
                        thread = None
                        console.print("the next message starts a new thread", style="dim")
                    elif command == "/help":
                        for name, what in _COMMANDS:
                            console.print(f"{name:<6} {what}", markup=False)
                    else:
                        errors.print(
                            f"unknown command {command}; /help lists the commands", markup=False
                        )
                    continue
                try:
                    outcome = runner.run(session.chat(text, thread))
                except ChatClientError as exc:
                    errors.print(f"error: {exc}", style="red", markup=False, soft_wrap=True)
                    continue
                thread = outcome.thread_id  # None after a missing thread: the next starts one
        finally:
            runner.run(session.close())
    if thread:
        console.print(f"thread {thread}", style="dim", markup=False)
    return True
