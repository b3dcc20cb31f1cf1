"""``goldpath serve --app module:attribute`` (or ``GOLDPATH_APP``) serves your own app, and
refuses one it cannot load in one line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

GOLDPATH = [sys.executable, "-c", "from goldpath.cli import main; main()"]

APP = """\
from goldpath import Agent
from goldpath.server import create_app


class Greeter(Agent):
    \"\"\"Says hello.\"\"\"

    name = "greeter"

    async def run(self, context, message, *, emitter, tools, model, history=()):
        return "hello"


def make_app():
    return create_app(agents=[Greeter])
"""


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    env.update(GOLDPATH_DATA_DIR=str(data_dir), GOLDPATH_LOG_LEVEL="warning", **extra)
    return env


@pytest.mark.parametrize("by_environment", [False, True], ids=["--app", "GOLDPATH_APP"])
def test_serve_your_app(tmp_path: Path, by_environment: bool) -> None:
    (tmp_path / "myagents.py").write_text(APP)
    spec = "myagents:make_app"
    option = [] if by_environment else ["--app", spec]
    env = environment(tmp_path / "data", **({"GOLDPATH_APP": spec} if by_environment else {}))
    command = [*GOLDPATH, "serve", "--port", "0", *option]
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        try:
            url = None
            for line in process.stdout:  # bounded: the server prints this line or exits
                found = re.search(r"goldpath is running at (http://\S+)", line)
                if found:
                    url = found.group(1)
                    break
            assert url is not None, "goldpath serve did not print its address"
            with httpx.Client(base_url=url, timeout=10) as http:
                account = {"username": "ada_lovelace", "password": "correct horse battery"}
                assert http.post("/auth/register", json=account).status_code == 201
                token = http.post("/auth/login", json=account).json()["access_token"]
                agents = http.get("/agents", headers={"Authorization": f"Bearer {token}"})
            assert agents.json() == [{"name": "greeter", "description": "Says hello."}]
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)


def test_an_app_that_cannot_be_loaded_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        textwrap.dedent("import json\n\nsettings = json.loads('')\n")
    )
    done = subprocess.run(
        [*GOLDPATH, "serve", "--port", "0", "--app", "broken:app"],
        cwd=tmp_path,
        env=environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2  # a configuration error (docs/server.md)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""  # the database line comes only once the app is made
    assert done.stderr == (
        "error: cannot load the app 'broken:app': importing 'broken' raised JSONDecodeError: "
        f"Expecting value: line 1 column 1 (char 0) ({tmp_path / 'broken.py'}, line 3)\n"
    )
