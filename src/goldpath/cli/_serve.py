"""``goldpath serve``: run the server, after checking what would make it fail at start-up."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from goldpath.cli._app import app
from goldpath.cli._errors import FAILURE, USAGE, fail
from goldpath.cli._storage import describe_storage
from goldpath.errors import ConfigurationError, GoldpathError

if TYPE_CHECKING:
    from goldpath.server import Settings

__all__ = ["serve"]

WORKER_HEALTHCHECK_SECONDS = 60
"""How long a ``--workers`` process may take to answer its supervisor before it is replaced."""


_SERVE_HELP = (
    "Run the goldpath server: the web page, the HTTP API and the /ws user streams.\n\n"
    "Settings come from GOLDPATH_* environment variables (see docs/server.md): the data "
    "directory, the database, the secret key, the allowed origins and the model. "
    "--app serves your own agents and tools (see docs/your-agents.md)."
)


@app.command(help=_SERVE_HELP, short_help="Run the server: web page, HTTP API, /ws.")
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS", help="Address to listen on (default: GOLDPATH_HOST, else 127.0.0.1)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT",
            help="Port to listen on, 0 for any free one (default: GOLDPATH_PORT, else 8000).",
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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Processes serving on the one port, each a node of one system; more than 1 "
            "needs PostgreSQL and Redis (GOLDPATH_DATABASE_URL, GOLDPATH_REDIS_URL; "
            "docs/deploy.md).",
        ),
    ] = 1,
) -> None:
    """Run the goldpath server until interrupted."""
    import uvicorn

    from goldpath._gc import tune_gc
    from goldpath.server import Settings, create_app
    from goldpath.server._loader import load_app
    from goldpath.server._logging import configure_logging
    from goldpath.server._serving import uvicorn_options

    try:
        tune_gc()  # this process only; the ones --workers and --reload start: app_from_settings
        settings = Settings()
        overrides = {"host": host, "port": port, "app": app_spec}
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        settings.check_backends()
        _check_workers(settings, workers, reload)
    except (ConfigurationError, ValueError) as exc:
        fail(str(exc), USAGE)
    try:  # another process serving this SQLite file: refused before anything is touched
        _check_database_free(settings)
    except ConfigurationError as exc:
        fail(str(exc), FAILURE)
    # The port first: a start that cannot listen touches neither the data dir nor the store.
    listener = _listen(settings.host, settings.port)
    try:
        settings = settings.prepared()
    except ConfigurationError as exc:
        listener.close()
        fail(str(exc), USAGE)
    configure_logging(settings.log_level, settings.log_format)
    options = {"host": settings.host, "port": settings.port, **uvicorn_options(settings)}
    if reload:
        where = "" if settings.port == 0 else f" at {_url(settings.host, settings.port)}"
        typer.echo(describe_storage(settings))
        typer.echo(f"goldpath is starting{where}, restarting when its code changes")
        listener.close()  # the reloader binds the port itself
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
    if workers > 1:
        _serve_workers(settings, workers, options, listener)
        return
    try:
        application = load_app(settings.app) if settings.app else create_app(settings)
        if not settings.app:  # an app of one's own opens the services of its own settings
            asyncio.run(_reach_services(settings))
    except GoldpathError as exc:
        listener.close()
        fail(str(exc), USAGE if isinstance(exc, ConfigurationError) else FAILURE)
    typer.echo(describe_storage(settings))

    class AnnouncingServer(uvicorn.Server):
        """uvicorn's server, printing the address once it really listens."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.servers:
                bound_host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
                typer.echo(
                    f"goldpath is running at {_url(bound_host, bound_port)} — open it in a browser"
                )

    # No logging configuration of uvicorn's own: its lines go through configure_logging's.
    server = AnnouncingServer(uvicorn.Config(application, **options, log_config=None))
    try:
        server.run(sockets=[listener])
    except SystemExit:  # uvicorn's exit when the app fails to start
        failed = getattr(getattr(application, "state", None), "startup_error", None)
        if failed is None:
            raise
        # Its one line is logged already (server/_startup.py): exit with goldpath's code.
        raise typer.Exit(USAGE if isinstance(failed, ConfigurationError) else FAILURE) from None


async def _reach_services(settings: Settings) -> None:
    """Open and close the store (migrating it) and the stream backend, so that a database
    or a Redis that cannot be reached fails start-up in one line, not in a traceback from
    the server's start-up."""
    from goldpath.server._app import make_hub
    from goldpath.store import Store

    assert settings.database_url is not None
    store = await Store.open(settings.database_url)
    await store.close()
    hub = await make_hub(settings)
    await hub.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it), or a one-line failure."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is in use: stop what listens there, "
                "or choose another port with --port",
                FAILURE,
            )
        fail(f"cannot listen on {host} port {port}: {exc.strerror or exc}", FAILURE)
    listener.set_inheritable(True)
    return listener


def _check_workers(settings: Settings, workers: int, reload: bool) -> None:
    """Several processes are one system only on a shared PostgreSQL and Redis."""
    if workers == 1:
        return
    if reload:
        raise ConfigurationError("--reload runs one process; leave out --workers or --reload")
    if settings.sqlite_file() is not None or not settings.redis_url:
        raise ConfigurationError(
            f"--workers {workers} needs PostgreSQL and Redis shared by the processes: set "
            "GOLDPATH_DATABASE_URL to a PostgreSQL database and GOLDPATH_REDIS_URL "
            "(docs/deploy.md)"
        )


def _serve_workers(
    settings: Settings, workers: int, options: dict[str, Any], listener: socket.socket
) -> None:
    """``workers`` processes on ``listener``, each building the app from the environment
    (uvicorn's supervisor; SIGTERM or Ctrl+C stops each gracefully, one it loses is
    replaced). Each process is a node: its runs end cleanly when it stops."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if settings.app:  # the processes read it from the environment
        os.environ["GOLDPATH_APP"] = settings.app
    config = uvicorn.Config(
        "goldpath.server._loader:app_from_settings",
        factory=True,
        workers=workers,
        log_config=None,
        # A process answers its supervisor's health check only once it has imported and
        # started (seconds on a busy machine); one that does not is killed and replaced.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,
    )
    bound_host, bound_port = listener.getsockname()[:2]
    typer.echo(
        f"goldpath is running at {_url(bound_host, bound_port)} with {workers} processes "
        "— open it in a browser"
    )
    Multiprocess(config, sockets=[listener]).run()


def _check_database_free(settings: Settings) -> None:
    """Refuse, before anything is made or opened, a SQLite database another process serves."""
    from goldpath.cluster import DatabaseLock

    database_file = settings.sqlite_file()
    if database_file is not None:
        DatabaseLock(database_file).check()


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
