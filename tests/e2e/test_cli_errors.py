"""Every user error of the `goldpath` command is one exact line and an exit code, no traceback.

Each case runs the real console entry point in a fresh process, as a person would; a
missing extra is made missing by blocking its import in that process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def goldpath(
    cwd: Path, *args: str, blocked: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    """``goldpath ARGS`` in ``cwd`` with nothing on stdin, GOLDPATH_* only from ``env``."""
    boot = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # importing it raises ModuleNotFoundError\n"
        "from goldpath.cli import main\n"
        "main()\n"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOLDPATH_", "OPENAI_")) and k != "COLUMNS"
    }
    return subprocess.run(
        [sys.executable, "-c", boot, *args],
        cwd=cwd,
        env={**clean, "GOLDPATH_DATA_DIR": str(cwd / "data"), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_check_without_libcst_names_the_extra(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "check", ".", blocked=("libcst",))
    assert (
        done.stderr
        == "error: goldpath check needs the libcst package: pip install 'goldpath[ssot]'\n"
    )
    assert done.returncode == 2


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "--debug", "check", ".", blocked=("libcst",))
    assert "Traceback" in done.stderr
    assert "ModuleNotFoundError" in done.stderr
    assert done.returncode == 1


def test_the_openai_model_without_its_extra(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "serve", "--port", "0", blocked=("openai",), GOLDPATH_MODEL="openai")
    assert done.stderr == (
        "error: GOLDPATH_MODEL=openai needs the openai package: pip install 'goldpath[openai]'\n"
    )
    assert done.returncode == 2
    assert not (tmp_path / "data").exists()


def test_the_openai_model_without_a_key(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "serve", "--port", "0", GOLDPATH_MODEL="openai")
    assert done.stderr == (
        "error: GOLDPATH_MODEL=openai needs a key: set GOLDPATH_OPENAI_API_KEY (or "
        "OPENAI_API_KEY), or GOLDPATH_OPENAI_BASE_URL for a server that needs none\n"
    )
    assert done.returncode == 2
    assert not (tmp_path / "data").exists()


def test_a_port_in_use_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = goldpath(tmp_path, "serve", "--port", str(port))
    assert done.stderr == (
        f"error: port {port} on 127.0.0.1 is in use: stop what listens there, "
        "or choose another port with --port\n"
    )
    assert done.stdout == ""
    assert done.returncode == 1
    assert not (tmp_path / "data").exists()


def test_an_address_that_is_not_this_machines_is_refused(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "serve", "--host", "192.0.2.1", "--port", "0")
    assert done.stderr == (
        "error: cannot listen on 192.0.2.1 port 0: Cannot assign requested address\n"
    )
    assert done.returncode == 1
    assert not (tmp_path / "data").exists()


def test_a_database_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql://ann:secret@127.0.0.1:{_free_port()}/goldpath"
    done = goldpath(tmp_path, "serve", "--port", "0", GOLDPATH_DATABASE_URL=url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(
        f"error: the database at postgresql+asyncpg://ann:***@{url.split('@')[1]} failed to "
        "upgrade the schema: "
    )
    assert done.stderr.count("\n") == 1
    assert "secret" not in done.stderr


def test_chat_with_a_url_that_is_no_url(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "chat", "--url", "127.0.0.1:17100")
    assert done.stderr == "error: --url must look like http://host:port, got '127.0.0.1:17100'\n"
    assert done.returncode == 2


def test_chat_with_no_server_says_so_before_asking_for_credentials(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    done = goldpath(tmp_path, "chat", "--url", url)
    assert done.stderr == f"error: cannot reach goldpath at {url}: is `goldpath serve` running?\n"
    assert done.stdout == ""  # no "Username:" prompt
    assert done.returncode == 1


def test_a_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "serve", "--port", "many")
    assert "Invalid value for '--port'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.returncode == 2


def test_a_failed_start_up_is_its_one_line_not_a_traceback(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "serve", "--port", "0", GOLDPATH_APPROVAL_TOOLS="shred,calculator")
    message = (
        "GOLDPATH_APPROVAL_TOOLS names 'shred', which no tool is called; the tools are: "
        "calculator, clock"
    )
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "shred" in line] == [
        line for line in done.stderr.splitlines() if message in line
    ]
    assert done.stderr.count(message) == 1
    assert done.returncode == 2


def test_a_gc_tuning_that_is_neither_on_nor_off(tmp_path: Path) -> None:
    done = goldpath(tmp_path, "serve", "--port", "0", GOLDPATH_GC_TUNING="maybe")
    assert done.stderr == (
        "error: GOLDPATH_GC_TUNING is 'maybe'; set it to on (the default) or off\n"
    )
    assert done.returncode == 2
