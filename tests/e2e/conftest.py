"""A real goldpath server on a real socket, and clients that speak PROTOCOL.md to it.

Each test module gets its own server (uvicorn in a thread, port 0) on a fresh data
directory. The model is the offline one, except for messages that ask the test model for
a slow run (``slow N``: N deltas 50 ms apart) or a long one (``sleep``: 60 s): those are
scripted, the only fake, at the vendor boundary.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page
from websockets.asyncio.client import ClientConnection, connect

from goldpath.models import Message, OfflineModel, ScriptedModel, TextDelta, Thought
from goldpath.models.scripted import Pause, ScriptStep
from goldpath.server import Settings, create_app
from goldpath.server._serving import uvicorn_options
from tests.e2e.browser import launch, new_page
from tests.uvicorn_thread import serving_in_thread

FRAME_TIMEOUT = 15.0
TEST_SECRET = "test-secret-key-long-enough-for-every-hmac-algorithm-0123456789abcdefghij"


class TestModel:
    """Offline answers, or scripted slow ones for messages starting ``slow N`` / ``sleep``."""

    __test__ = False

    def __init__(self) -> None:
        self._offline = OfflineModel()
        self._sleep = ScriptedModel([[Thought("taking my time"), Pause(60), TextDelta("done")]])
        self._slow: dict[int, ScriptedModel] = {}

    @property
    def name(self) -> str:
        return "test"

    def stream(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> Any:
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        if question.startswith("sleep"):
            return self._sleep.stream(messages, tools)
        if question.startswith("slow "):
            count = int(question.split()[1])
            model = self._slow.get(count)
            if model is None:
                steps: list[ScriptStep] = [Thought("slowly")]
                for i in range(count):
                    steps += [Pause(0.05), TextDelta(f"{i} ")]
                model = self._slow[count] = ScriptedModel([steps])
            return model.stream(messages, tools)
        return self._offline.stream(messages, tools)


@dataclass(frozen=True)
class Server:
    base_url: str
    ws_url: str
    app: FastAPI
    settings: Settings


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test settings: cheap password hashing and a short auth timeout; override the rest.

    Every setting the environment could change under the tests is given here.
    """
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "redis_url": None,
        "allowed_origins": [],
        "trusted_proxies": [],
        "model": "offline",
        "demo_notes": True,
        "secret_key": TEST_SECRET,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "auth_timeout_seconds": 0.5,
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running(
    settings: Settings, app: FastAPI | None = None, *, ws_max_size: int | None = None
) -> Iterator[Server]:
    """Serve ``app`` (made from ``settings`` with the test model) until the block ends.

    uvicorn gets the options `goldpath serve` gives it; its own frame limit is the
    settings' one unless ``ws_max_size`` is given (to test the handler's own check).
    """
    app = app if app is not None else create_app(settings, model=TestModel())
    options = {**uvicorn_options(settings), "log_level": "warning"}
    if ws_max_size is not None:
        options["ws_max_size"] = ws_max_size
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", **options)
    with serving_in_thread(config, "goldpath-test-server") as port:
        yield Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", app, settings)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default server of a test module."""
    with running(make_settings(tmp_path_factory.mktemp("goldpath"))) as srv:
        yield srv


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=FRAME_TIMEOUT) as client:
        yield client


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_user(http: httpx.AsyncClient, prefix: str = "user") -> User:
    """Register and log in a fresh user."""
    username = f"{prefix}_{uuid.uuid4().hex[:10]}"
    password = "correct horse battery"
    registered = await http.post(
        "/auth/register", json={"username": username, "password": password}
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return User(registered.json()["user_id"], username, password, login.json()["access_token"])


class WsClient:
    """A PROTOCOL.md client over the ``websockets`` library; every receive is time-bounded."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, frame: Mapping[str, Any] | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), FRAME_TIMEOUT)
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Every frame up to and including the first that ``done`` accepts."""
        frames: list[dict[str, Any]] = []
        while True:
            frame = await self.recv()
            frames.append(frame)
            if done(frame):
                return frames

    async def run_to_end(self, run_id: str) -> list[dict[str, Any]]:
        """Frames up to this run's ``agent_completed``."""
        return await self.until(
            lambda f: f.get("type") == "agent_completed" and f.get("run_id") == run_id
        )

    async def chat(self, message: str, **fields: Any) -> dict[str, Any]:
        """Send a chat frame and return its ``run_accepted`` (asserting nothing came before)."""
        await self.send({"type": "chat", "message": message, **fields})
        accepted = await self.recv()
        assert accepted["type"] == "run_accepted", accepted
        return accepted


async def open_ws(
    server: Server, user: User | None, *, ready: bool = True, **kwargs: Any
) -> tuple[WsClient, dict[str, Any]]:
    """Connect with the token in the upgrade header; returns the client and ``ready``."""
    headers = dict(kwargs.pop("additional_headers", {}))
    if user is not None:
        headers["Authorization"] = f"Bearer {user.token}"
    connection = await connect(server.ws_url, additional_headers=headers, **kwargs)
    client = WsClient(connection)
    frame = await client.recv() if ready else {}
    if ready:
        assert frame["type"] == "ready", frame
    return client, frame


def events_of(frames: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("run_id") == run_id and "offset" in f]


def assert_gapless(frames: list[dict[str, Any]], start: int) -> None:
    """Event offsets go start+1, start+2, ... with no gap and no repeat."""
    offsets = [f["offset"] for f in frames if "offset" in f]
    assert offsets == list(range(start + 1, start + 1 + len(offsets))), offsets


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for a module's browser tests (tests/e2e/browser.py)."""
    with launch() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page."""
    with new_page(browser) as fresh:
        yield fresh
