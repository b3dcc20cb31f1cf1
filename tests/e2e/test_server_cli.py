"""``goldpath serve`` as a person runs it: it prints where to go, and serves there."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

pytestmark = pytest.mark.e2e


def test_goldpath_serve(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDPATH_")}
    env["GOLDPATH_DATA_DIR"] = str(tmp_path)
    command = [
        sys.executable,
        "-c",
        "from goldpath.cli import main; main()",
        "serve",
        "--port",
        "0",
    ]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        try:
            url = None
            for line in process.stdout:  # bounded: the server prints this line or exits
                found = re.search(
                    r"goldpath is running at (http://\S+) — open it in a browser", line
                )
                if found:
                    url = found.group(1)
                    break
            assert url is not None, "goldpath serve did not print its address"
            health = httpx.get(f"{url}/health", timeout=10)
            assert health.status_code == 200
            assert health.json()["status"] == "ok"
            assert (tmp_path / "secret_key").exists()
            # A client asking for permessage-deflate, as browsers do, is not given it.
            with connect(url.replace("http://", "ws://") + "/ws", compression="deflate") as ws:
                assert ws.response is not None
                assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        finally:
            process.send_signal(signal.SIGINT)
            rest, _ = process.communicate(timeout=30)
    # uvicorn shuts down cleanly, then exits as interrupted (128 + SIGINT), as Ctrl+C should.
    assert "Application shutdown complete" in rest
    assert process.returncode in (0, 128 + signal.SIGINT, -signal.SIGINT)
