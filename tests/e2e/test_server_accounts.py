"""Accounts over real sockets: logout revokes one token; `goldpath user passwd` and
`goldpath user delete` revoke every token of the user; `goldpath user list` shows them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from goldpath.cli import app
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


@pytest.fixture
def cli_env(server: Server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`goldpath user ...` pointed at the test server's data dir, with cheap hashing."""
    for name in ("GOLDPATH_DATABASE_URL", "GOLDPATH_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOLDPATH_DATA_DIR", str(server.settings.data_dir))
    monkeypatch.setenv("GOLDPATH_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("GOLDPATH_PASSWORD_HASH_MEMORY_KIB", "1024")
    return server.settings.data_dir


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


def _register(client: httpx.Client) -> str:
    username = f"acc_{uuid.uuid4().hex[:10]}"
    made = client.post("/auth/register", json={"username": username, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return username


def _login(client: httpx.Client, username: str, password: str = PASSWORD) -> str:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _status(client: httpx.Client, token: str) -> int:
    return client.get("/threads", headers={"Authorization": f"Bearer {token}"}).status_code


def _ws_answer(server: Server, token: str) -> str | int:
    """``ready`` when the socket accepts the token, else the code it was closed with."""
    with connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        try:
            return str(json.loads(ws.recv(timeout=10))["type"])
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else "no close frame"


def test_logout_revokes_only_the_token_used(server: Server, client: httpx.Client) -> None:
    username = _register(client)
    first, second = _login(client, username), _login(client, username)
    assert _ws_answer(server, first) == "ready"
    out = client.post("/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert (out.status_code, out.content) == (204, b"")
    assert _status(client, first) == 401
    assert _ws_answer(server, first) == 4401
    again = client.post("/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "unauthorized"
    assert _status(client, second) == 200
    assert _ws_answer(server, second) == "ready"
    assert client.post("/auth/logout").status_code == 401


def test_a_new_password_revokes_every_token(
    server: Server, client: httpx.Client, cli_env: Path
) -> None:
    username = _register(client)
    tokens = [_login(client, username), _login(client, username)]
    changed = CliRunner().invoke(
        app, ["user", "passwd", username.upper(), "--password", "a new password"]
    )
    assert changed.exit_code == 0, changed.output
    assert f"changed the password of {username!r}" in changed.stdout
    assert f"database: sqlite:///{cli_env.resolve() / 'goldpath.db'}" in changed.stderr
    for token in tokens:
        assert _status(client, token) == 401
        assert _ws_answer(server, token) == 4401
    refused = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert refused.status_code == 401
    assert _status(client, _login(client, username, "a new password")) == 200


def test_deleting_a_user_revokes_every_token_and_takes_their_threads(
    server: Server, client: httpx.Client, cli_env: Path
) -> None:
    username, other = _register(client), _register(client)
    token, other_token = _login(client, username), _login(client, other)
    made = client.post(
        "/threads", json={"title": "mine"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert made.status_code == 201
    listed = CliRunner().invoke(app, ["user", "list"])
    assert listed.exit_code == 0, listed.output
    assert {line.split("\t")[0] for line in listed.stdout.splitlines()} >= {username, other}
    deleted = CliRunner().invoke(app, ["user", "delete", username, "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted user {username!r}" in deleted.stdout
    assert _status(client, token) == 401
    assert _ws_answer(server, token) == 4401
    assert _status(client, other_token) == 200
    relisted = CliRunner().invoke(app, ["user", "list"])
    assert username not in relisted.stdout
    assert other in relisted.stdout
    # The username is free again, and the new account owns nothing of the old one.
    _register_as = client.post("/auth/register", json={"username": username, "password": PASSWORD})
    assert _register_as.status_code == 201
    fresh = _login(client, username)
    assert client.get("/threads", headers={"Authorization": f"Bearer {fresh}"}).json() == []
    gone = CliRunner().invoke(app, ["user", "delete", "nobody_here", "--yes"])
    assert gone.exit_code == 1
    assert "error: there is no user 'nobody_here'; `goldpath user list` shows them" in gone.stderr


def test_deleting_a_missing_user_says_so_before_asking(cli_env: Path) -> None:
    gone = CliRunner().invoke(app, ["user", "delete", "nobody_here"], input="y\n")
    assert gone.exit_code == 1
    assert "delete 'nobody_here'" not in gone.stdout  # nothing to confirm
    assert "error: there is no user 'nobody_here'; `goldpath user list` shows them" in gone.stderr


def test_deleting_a_user_asks_first(client: httpx.Client, cli_env: Path) -> None:
    username = _register(client)
    kept = CliRunner().invoke(app, ["user", "delete", username.upper()], input="n\n")
    assert kept.exit_code == 1
    assert f"delete {username!r} and everything it owns?" in kept.stdout
    assert _status(client, _login(client, username)) == 200
    deleted = CliRunner().invoke(app, ["user", "delete", username], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted user {username!r}" in deleted.stdout
