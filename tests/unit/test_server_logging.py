"""The two log formats: ``key=value`` text, and one JSON object a line."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator

import pytest

from goldpath.server._logging import (
    JsonFormatter,
    KeyValueFormatter,
    configure_logging,
    log_as_node,
    process_node,
)

pytestmark = pytest.mark.unit


def _record(msg: str, *, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("goldpath.test", logging.ERROR, __file__, 1, msg, (), exc_info)
    record.__dict__.update(extra)
    return record


def test_a_json_line_carries_the_ids_and_the_node() -> None:
    line = JsonFormatter("node_a").format(
        _record("run accepted\nforged", user_id="usr_1", run_id="run_1", request_id="req_1")
    )
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "run accepted\nforged"
    assert data["level"] == "ERROR"
    assert data["logger"] == "goldpath.test"
    assert data["ts"].endswith("+00:00")
    assert (data["node"], data["user_id"], data["run_id"], data["request_id"]) == (
        "node_a",
        "usr_1",
        "run_1",
        "req_1",
    )
    assert "exc" not in data
    assert "status" not in data


def test_a_json_line_about_no_run_has_null_ids_and_only_the_fields_given() -> None:
    data = json.loads(JsonFormatter("n").format(_record("connection ready", connection_id="c1")))
    assert data["user_id"] is None
    assert data["run_id"] is None
    assert data["request_id"] is None
    assert data["connection_id"] == "c1"
    assert "agent" not in data


def test_a_json_error_line_holds_its_traceback_on_the_same_line() -> None:
    line = JsonFormatter("n").format(_record("run failed", exc=True, run_id="run_1"))
    assert "\n" not in line
    data = json.loads(line)
    assert data["exc"].startswith("Traceback (most recent call last)")
    assert "RuntimeError: boom\nsecond line" in data["exc"]


def test_the_text_format_is_unchanged() -> None:
    line = KeyValueFormatter().format(_record("run accepted", run_id="run_1", status="ok"))
    assert line.endswith("ERROR goldpath.test run accepted run_id=run_1 status=ok")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The loggers `configure_logging` changes, put back as they were after the test."""
    names = ("goldpath", "uvicorn")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}
    propagate = {n: logging.getLogger(n).propagate for n in names}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate[name]


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_chooses_the_format_for_goldpath_and_uvicorn() -> None:
    configure_logging("warning", "json", node="node_x")
    for name in ("goldpath", "uvicorn"):
        logger = logging.getLogger(name)
        assert logger.level == logging.WARNING
        assert not logger.propagate
        (handler,) = logger.handlers
        assert isinstance(handler.formatter, JsonFormatter)
    configure_logging("info")
    (handler,) = logging.getLogger("goldpath").handlers
    assert isinstance(handler.formatter, KeyValueFormatter)


def test_the_process_node_names_host_and_pid() -> None:
    assert process_node().endswith(f":{os.getpid()}")


@pytest.mark.usefixtures("restored_logging")
def test_log_as_node_names_the_node_until_restored() -> None:
    configure_logging("info", "json", node="host:1")
    restore = log_as_node("node_abc")
    (handler,) = logging.getLogger("goldpath").handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert json.loads(handler.formatter.format(_record("x")))["node"] == "node_abc"
    restore()
    assert handler.formatter.node == "host:1"
