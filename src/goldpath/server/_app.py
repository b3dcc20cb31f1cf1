"""`create_app`: the ASGI app, its start-up and shutdown, and the web page."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goldpath._version import __version__
from goldpath.agents import Agent, AgentRegistry, builtin_agents
from goldpath.cluster import Cluster, DatabaseLock, InProcessCluster, LeaseKeeper
from goldpath.engine import RunLimits
from goldpath.factory import ExecutionEngineFactory, configure_execution_engine_factory
from goldpath.models import ChatModel
from goldpath.server._access import AccessLogMiddleware
from goldpath.server._agents import router as agents_router
from goldpath.server._agui import router as agui_router
from goldpath.server._auth import Authenticator, PasswordHashing, TokenIssuer
from goldpath.server._caps import Caps
from goldpath.server._docs import DOCS_PATHS, serve_docs
from goldpath.server._errors import Problem, install_error_handlers, problem_response
from goldpath.server._headers import SecurityHeadersMiddleware
from goldpath.server._http import router as http_router
from goldpath.server._logging import log_as_node
from goldpath.server._metrics import Metrics, PrometheusMetrics, serve_metrics
from goldpath.server._models import check_agent_models, open_models
from goldpath.server._observers import open_tracing, run_observer
from goldpath.server._paging import NEXT_CURSOR
from goldpath.server._ready import router as ready_router
from goldpath.server._recorder import EventRecorder, RecordedStreams
from goldpath.server._runs import RunService
from goldpath.server._settings import Settings
from goldpath.server._sse import router as sse_router
from goldpath.server._startup import StartupErrors, reported
from goldpath.server._state import AppState
from goldpath.server.ws import WebSocketEntry
from goldpath.store import RunLease, Store
from goldpath.stream import InMemoryStreamHub, StreamHub
from goldpath.tools import (
    BUILTIN_TOOLS,
    ApprovalPolicy,
    NoteBook,
    Tool,
    ToolSource,
    open_sources,
    requiring_approval,
    tool_table,
)

__all__ = ["STATIC_DIR", "create_app", "make_cluster", "make_hub", "password_hashing"]

logger = logging.getLogger("goldpath.server")

STATIC_DIR = Path(__file__).parent / "static"

SLOT_SECONDS = 30.0
"""The least time a run's slot in Redis outlives its node's last heartbeat."""


async def make_hub(settings: Settings) -> StreamHub:
    """The user streams: in Redis when ``GOLDPATH_REDIS_URL`` is set (shared by every
    process on it; imported only then), otherwise in this process."""
    # A stream is forgotten only when no run can still be writing to it.
    idle_seconds = max(settings.history_seconds, 2 * settings.run_timeout)
    if settings.redis_url:
        from goldpath.stream.redis import RedisStreamHub

        return await RedisStreamHub.from_url(
            settings.redis_url,
            prefix=settings.redis_prefix,
            history_events=settings.history_events,
            history_seconds=settings.history_seconds,
            idle_seconds=idle_seconds,
        )
    return InMemoryStreamHub(
        history_events=settings.history_events,
        history_seconds=settings.history_seconds,
        idle_seconds=idle_seconds,
    )


async def make_cluster(settings: Settings) -> Cluster:
    """This node's cluster: on Redis when ``GOLDPATH_REDIS_URL`` is set (slots, limits and
    cancels shared by every node on it), otherwise this process alone."""
    if settings.redis_url:
        from goldpath.cluster.redis import RedisCluster

        # A slot outlives a late heartbeat easily; a stopped node's slots come back by
        # themselves after this, its runs are ended by the lease sweep long before.
        slot_seconds = max(3 * settings.lease_seconds, SLOT_SECONDS)
        return await RedisCluster.from_url(
            settings.redis_url, prefix=settings.redis_prefix, slot_seconds=slot_seconds
        )
    return InProcessCluster()


def password_hashing(settings: Settings) -> PasswordHashing:
    return PasswordHashing(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )


class RequestIdMiddleware:
    """Gives every HTTP request a ``request_id`` (``request.state``, ``X-Request-ID``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


MAX_BODY_BYTES = 1 << 20
"""The largest HTTP request body; larger is answered 422 ``too_large``."""


class BodyLimitMiddleware:
    """Answers HTTP bodies over `MAX_BODY_BYTES` with 422 ``too_large`` itself.

    A body with a ``Content-Length`` over the limit is refused unread. A body without one
    (chunked) is read here, up to the limit, before the app sees it: the refusal is sent
    from here, not raised inside ``receive`` (where FastAPI's body parser would turn it
    into a 400), and a body within the limit is handed on as it came.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server delivers no more than declared
            return
        received: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the app learns it from the replay
            seen += len(message.get("body", b""))
            if seen > limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        pending = iter(received)

        async def replayed() -> Message:
            message = next(pending, None)
            return message if message is not None else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        too_large = Problem(
            422,
            "too_large",
            f"the request body is over {self.limit} bytes; send a shorter message",
        )
        await problem_response(too_large)(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    agents: AgentRegistry | Iterable[type[Agent]] | None = None,
    tools: Iterable[Tool | ToolSource] | None = None,
    model: ChatModel | None = None,
    approval_policy: ApprovalPolicy | None = None,
) -> FastAPI:
    """The goldpath server, running your agents with your tools.

    ``agents`` is an `AgentRegistry` or a list of agent classes (default: the built-in
    ``supervisor``); the first is the one a chat runs when it names none. ``tools`` replaces
    the built-in tools and the notes demo (add `BUILTIN_TOOLS` to keep the built-in ones);
    a `ToolSource` in it, such as `goldpath.tools.mcp.MCPTools`, gives its tools at
    start-up. ``model`` overrides ``GOLDPATH_MODEL`` (tests pass a scripted one).
    ``approval_policy`` decides per call whether a person must approve it
    (docs/approvals.md), beside the tools declared ``requires_approval`` and those
    ``GOLDPATH_APPROVAL_TOOLS`` names.

    Settings are read here, once: the data directory, the secret key and the database URL
    are resolved before the app is returned, and the agents and tools are checked (a
    `GoldpathError` says what is wrong). The store and the stream backend (Redis when
    ``GOLDPATH_REDIS_URL`` is set) are opened at start-up and closed at shutdown.
    """
    settings = (settings if settings is not None else Settings()).prepared()
    registry = _agent_registry(agents)
    check_agent_models(registry.classes())
    given = tuple(tools) if tools is not None else _default_tools(settings)
    sources = [item for item in given if isinstance(item, ToolSource)]
    tool_list = tuple(tool_table(t for t in given if not isinstance(t, ToolSource)).values())
    metrics = PrometheusMetrics() if settings.metrics else Metrics()
    tracing = open_tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            assert settings.database_url is not None
            assert settings.secret_key is not None
            database_file = settings.sqlite_file()
            lock = None if database_file is None else DatabaseLock(database_file)
            if lock is not None:  # before the database is touched: one process per file
                lock.acquire()
                stack.callback(lock.release)
            store = await Store.open(settings.database_url)
            stack.push_async_callback(store.close)
            stack.callback(metrics.close)
            if tracing is not None:
                tracing.start()
                stack.callback(tracing.close)
            hub = await make_hub(settings)
            stack.push_async_callback(hub.close)
            cluster = await make_cluster(settings)
            stack.push_async_callback(cluster.close)
            stack.callback(log_as_node(cluster.node_id))
            chosen, models = open_models(settings, model, registry.classes(), stack)
            recorder = EventRecorder(store)
            stack.push_async_callback(recorder.close)  # after the runs end, before the store
            factory = ExecutionEngineFactory(
                streams=RecordedStreams(hub, recorder),
                model=chosen,
                models=models,
                agents=registry,
                tools=requiring_approval(
                    (*tool_list, *await open_sources(sources, stack)), settings.approval_tools
                ),
                limits=RunLimits(
                    max_runs_per_user=settings.max_runs_per_user,
                    run_timeout=settings.run_timeout,
                    max_tool_calls=settings.max_tool_calls,
                    approval_timeout=settings.approval_timeout,
                ),
                observer=run_observer(metrics, tracing),
                slots=cluster.slots,
                approval_policy=approval_policy,
            )
            configure_execution_engine_factory(factory)
            stack.callback(configure_execution_engine_factory, None)
            lease = RunLease(cluster.node_id, settings.lease_seconds)
            runs = RunService(
                store,
                factory,
                recorder,
                cluster=cluster,
                lease=lease,
                max_message_chars=settings.max_message_chars,
                messages=cluster.window("messages", settings.messages_per_minute, 60.0),
            )
            keeper = LeaseKeeper(
                store,
                hub,
                cluster,
                lease,
                local_runs=runs.run_ids,
                on_lost=runs.lost,
                on_sweep=runs.end_expired_approvals,
            )
            stack.push_async_callback(keeper.close)  # after the runs below have ended
            stack.push_async_callback(runs.shutdown)
            # Runs stopped nodes left (with the SQLite file's lock: every one left running).
            await keeper.start(sole_node=lock is not None)
            await cluster.start(runs.cancel_here)
            passwords = password_hashing(settings)
            await passwords.prepare()
            auth = Authenticator(
                store,
                passwords,
                TokenIssuer(settings.secret_key, settings.token_ttl_seconds),
                failures_per_account=settings.login_failures_per_account,
                failures_per_address=settings.login_failures_per_address,
                failure_window=settings.login_failure_window_seconds,
                registrations_per_address=settings.registrations_per_address,
                slowdown=settings.login_slowdown_seconds,
                windows=cluster.window,
            )
            caps = Caps(
                connections_per_user=settings.max_connections_per_user,
                threads=cluster.window("threads", settings.threads_per_minute, 60.0),
            )
            app.state.goldpath = AppState(settings, store, hub, factory, auth, runs, caps, recorder)
            logger.info(
                "goldpath %s serving with the %s model as node %s",
                __version__,
                chosen.name,
                cluster.node_id,
            )
            yield
            logger.info("goldpath shutting down; cancelling %d runs", runs.in_flight())

    app = FastAPI(
        title="goldpath",
        version=__version__,
        summary="Run AI agents for many users at once; every step streams to its own user.",
        lifespan=reported(lifespan),
        docs_url=None,  # served offline by serve_docs, not from a CDN
        redoc_url=None,
    )
    app.state.metrics = metrics
    app.state.tracing = tracing
    app.add_middleware(StartupErrors, owner=app)
    if settings.metrics:
        app.add_route("/metrics", serve_metrics, include_in_schema=False)
    install_error_handlers(app)
    _document_errors(app)
    app.include_router(http_router)
    app.include_router(ready_router)
    app.include_router(agents_router)
    app.include_router(sse_router)
    app.include_router(agui_router)
    _serve_page(app)
    serve_docs(app)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=[NEXT_CURSOR],
        )
    app.add_middleware(BodyLimitMiddleware)
    _guard_edges(app)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(WebSocketEntry)
    if tracing is not None:
        tracing.instrument(app)
    return app


def _default_tools(settings: Settings) -> tuple[Tool, ...]:
    """The tools of an app given none: the built-in ones, and the notes demo (its own
    `NoteBook`, so two apps in one process share no notes) unless switched off."""
    if not settings.demo_notes:
        return BUILTIN_TOOLS
    return (*BUILTIN_TOOLS, *NoteBook().tools())


def _agent_registry(agents: AgentRegistry | Iterable[type[Agent]] | None) -> AgentRegistry:
    """The registry of ``create_app(agents=...)``; `RegistryError` for an empty one."""
    if agents is None:
        return builtin_agents()
    registry = agents if isinstance(agents, AgentRegistry) else AgentRegistry(agents)
    registry.default  # noqa: B018 (raises for an empty registry: a server with no agent)
    return registry


def _guard_edges(app: FastAPI) -> None:
    """Security headers on every answer (the documentation pages with their own policy),
    and the access log, which sees the request id and the final status."""
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=DOCS_PATHS)
    app.add_middleware(AccessLogMiddleware)


def _document_errors(app: FastAPI) -> None:
    """OpenAPI as the protocol answers: FastAPI's 422 body is replaced by the error body,
    and every operation documents 500 ``internal``."""
    default = app.openapi
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    for status, response in responses.items():
                        if status == "422":
                            response["content"] = {"application/json": {"schema": error_ref}}
                    responses["500"] = {
                        "description": "internal error (code internal); nothing is leaked",
                        "content": {"application/json": {"schema": error_ref}},
                    }
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _serve_page(app: FastAPI) -> None:
    """The web page: ``index.html`` at ``/``, the rest of ``static/`` under ``/static/``."""
    STATIC_DIR.mkdir(exist_ok=True)
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
