"""``goldpath serve`` and ``goldpath user add``: run the server, make accounts from a shell."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from goldpath.cli._app import app
from goldpath.errors import ConfigurationError, ConflictError, GoldpathError

__all__ = ["serve", "user_add"]

user_app = typer.Typer(name="user", help="Manage the server's user accounts.", no_args_is_help=True)
app.add_typer(user_app)


_SERVE_HELP = (
    "Run the goldpath server: the web page, the HTTP API and the /ws user streams.\n\n"
    "Settings come from GOLDPATH_* environment variables (see docs/server.md): the data "
    "directory, the database, the secret key, the allowed origins and the model. "
    "--app serves your own agents and tools (see docs/your-agents.md)."
)


@app.command(help=_SERVE_HELP)
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: GOLDPATH_HOST, else 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on, 0 for any free one (default: GOLDPATH_PORT, else 8000)."
        ),
    ] = None,
    reload: Annotated[
        bool,
        typer.Option(help="Restart when the code changes (development only; new stream epoch)."),
    ] = False,
    app_spec: Annotated[
        str | None,
        typer.Option(
            "--app",
            metavar="MODULE:ATTRIBUTE",
            help="Serve this app instead of goldpath's own: the result of create_app(...), or "
            "a function returning it; the working directory is on the import path "
            "(default: GOLDPATH_APP).",
        ),
    ] = None,
) -> None:
    """Run the goldpath server until interrupted."""
    import uvicorn

    from goldpath.server import Settings, create_app
    from goldpath.server._loader import load_app
    from goldpath.server._logging import configure_logging
    from goldpath.server._serving import uvicorn_options

    try:
        settings = Settings()
        overrides = {"host": host, "port": port, "app": app_spec}
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        settings.check_backends()
    except (ConfigurationError, ValueError) as exc:
        _fail(str(exc))
    configure_logging(settings.log_level)
    options = {"host": settings.host, "port": settings.port, **uvicorn_options(settings)}
    if reload:
        where = "" if settings.port == 0 else f" at {_url(settings.host, settings.port)}"
        typer.echo(f"goldpath is starting{where}, restarting when its code changes")
        package = str(Path(__file__).resolve().parents[1])
        if settings.app:  # the processes uvicorn starts read it from the environment
            os.environ["GOLDPATH_APP"] = settings.app
        uvicorn.run(
            "goldpath.server._loader:app_from_settings",
            factory=True,
            reload=True,
            reload_dirs=[package, os.getcwd()],
            **options,
        )
        return
    try:
        application = load_app(settings.app) if settings.app else create_app(settings)
    except GoldpathError as exc:
        _fail(str(exc))

    class AnnouncingServer(uvicorn.Server):
        """uvicorn's server, printing the address once it really listens."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.servers:
                bound_host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
                typer.echo(
                    f"goldpath is running at {_url(bound_host, bound_port)} — open it in a browser"
                )

    AnnouncingServer(uvicorn.Config(application, **options)).run()


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@user_app.command("add")
def user_add(
    username: Annotated[
        str, typer.Argument(help="3 to 64 letters, digits, '_', '.' or '-'; unique ignoring case.")
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="8 to 256 characters; asked for (hidden) when not given.",
        ),
    ],
) -> None:
    """Create a user account in the server's database (GOLDPATH_DATABASE_URL or the data dir)."""
    from pydantic import ValidationError

    from goldpath.server._schemas import RegisterBody

    try:  # the same rules as POST /auth/register
        RegisterBody(username=username, password=password)
    except ValidationError as exc:
        problems = {str(e["loc"][0]) for e in exc.errors()}
        if "username" in problems:
            _fail(f"username {username!r} must be 3 to 64 of A-Z a-z 0-9 _ . -")
        _fail("the password must be 8 to 256 characters long")
    try:
        user_id = asyncio.run(_add_user(username, password))
    except ConflictError:
        _fail(f"the username {username!r} is taken; choose another one")
    except GoldpathError as exc:
        _fail(str(exc))
    typer.echo(f"created user {username!r} ({user_id})")


async def _add_user(username: str, password: str) -> str:
    from goldpath.server import Settings
    from goldpath.server._app import password_hashing
    from goldpath.store import Store

    settings = Settings().prepared()
    assert settings.database_url is not None
    store = await Store.open(settings.database_url)
    try:
        password_hash = await password_hashing(settings).hash(password)
        return (await store.create_user(username, password_hash)).user_id
    finally:
        await store.close()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
