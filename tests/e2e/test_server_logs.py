"""Logs as an operator reads them: JSON lines from ``goldpath serve``, one line per failure."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from goldpath.server import create_app
from goldpath.server._errors import INTERNAL_MESSAGE
from tests.e2e.conftest import make_settings, new_user, open_ws, running

pytestmark = pytest.mark.e2e


def test_goldpath_serve_writes_one_json_object_per_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    env |= {
        "GOLDPATH_DATA_DIR": str(tmp_path),
        "GOLDPATH_LOG_FORMAT": "json",
        "GOLDPATH_PASSWORD_HASH_TIME_COST": "1",
        "GOLDPATH_PASSWORD_HASH_MEMORY_KIB": "1024",
    }
    command = [
        sys.executable,
        "-c",
        "from goldpath.cli import main; main()",
        "serve",
        "--port",
        "0",
    ]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        try:
            url = None
            for line in process.stdout:  # bounded: the server prints this line or exits
                found = re.search(r"goldpath is running at (http://\S+) ", line)
                if found:
                    url = found.group(1)
                    break
            assert url is not None, "goldpath serve did not print its address"
            with httpx.Client(base_url=url, timeout=30) as client:
                user = _user(client)
                thread = client.post("/threads", headers=user["headers"], json={}).json()
                accepted = client.post(
                    f"/threads/{thread['thread_id']}/runs?token=secret-in-query",
                    headers=user["headers"],
                    json={"message": "hello"},
                )
                assert accepted.status_code == 202, accepted.text
                run_id = accepted.json()["run_id"]
                lines: list[dict[str, Any]] = []
                for raw in process.stderr:  # bounded: the run ends, or the test times out
                    lines.append(json.loads(raw))
                    if lines[-1]["message"] == "run finished" and lines[-1]["run_id"] == run_id:
                        break
        finally:
            process.send_signal(signal.SIGINT)
            _, rest = process.communicate(timeout=30)
    lines += [json.loads(raw) for raw in rest.splitlines()]
    # Until the app has started, the process; then the cluster's node id, as leases say.
    finished = next(line for line in lines if line["message"] == "run finished")
    assert finished["node"].startswith("node_")
    assert {line["node"] for line in lines} == {f"{_host()}:{process.pid}", finished["node"]}
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's too
    assert finished["user_id"] == user["user_id"]
    assert finished["status"] == "ok"
    accepted_line = next(line for line in lines if line["message"] == "run accepted")
    assert accepted_line["request_id"].startswith("req_")
    access = [line for line in lines if line["logger"] == "goldpath.server.access"]
    run_access = next(line for line in access if "/runs" in line["message"])
    assert run_access["request_id"] == accepted_line["request_id"]
    assert run_access["user_id"] == user["user_id"]
    assert all("secret-in-query" not in json.dumps(line) for line in lines)


def _host() -> str:
    import socket

    return socket.gethostname()


def _user(client: httpx.Client) -> dict[str, Any]:
    credentials = {"username": "ops_reader", "password": "correct horse battery"}
    registered = client.post("/auth/register", json=credentials)
    assert registered.status_code == 201, registered.text
    token = client.post("/auth/login", json=credentials).json()["access_token"]
    return {
        "user_id": registered.json()["user_id"],
        "headers": {"Authorization": f"Bearer {token}"},
    }


class _Broken:
    """A model whose client fails in a way goldpath does not know (a bug, not a limit)."""

    name = "broken"

    def stream(self, messages: Any, tools: Any) -> Any:
        raise RuntimeError("model client bug at 10.0.0.7:5432")


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_unexpected_run_failure_is_logged_once_and_the_user_reads_a_generic_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings, model=_Broken())
    with caplog.at_level(logging.INFO, logger="goldpath"), running(settings, app) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            ws, _ = await open_ws(srv, user)
            async with ws.connection:
                accepted = await ws.chat("hello")
                frames = await ws.run_to_end(accepted["run_id"])
    assert frames[-1]["data"]["status"] == "error"
    assert "10.0.0.7" not in json.dumps(frames)
    (error,) = _errors(caplog)
    assert error.exc_info is not None
    assert "model client bug" in str(error.exc_info[1])
    assert error.__dict__["run_id"] == accepted["run_id"]


async def test_an_unexpected_route_failure_is_logged_once_and_answered_generically(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    with caplog.at_level(logging.INFO, logger="goldpath"), running(settings) as srv:
        store = srv.app.state.goldpath.store

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database at 10.0.0.7:5432 said no")

        async with httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
            user = await new_user(http)
            monkeypatch.setattr(store, "list_threads", broken)
            answer = await http.get("/threads", headers=user.headers)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": INTERNAL_MESSAGE}}
    (error,) = _errors(caplog)
    assert error.exc_info is not None
    assert "10.0.0.7" in str(error.exc_info[1])
    assert error.__dict__["request_id"] == answer.headers["x-request-id"]
