"""Structured log lines: ``key=value`` text for people, or one JSON object a line for machines.

``GOLDPATH_LOG_FORMAT`` chooses: ``text`` (the default) writes the message, then the ids of
the request, run and connection as ``key=value``; ``json`` writes one object per line with
``ts``, ``level``, ``logger``, ``message``, ``node``, ``user_id``, ``run_id`` and
``request_id`` always (null when the line is about no user, run or request), the other
`FIELDS` when given, and ``exc`` (the traceback) for an error that has one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

__all__ = [
    "FIELDS",
    "LOG_FORMATS",
    "JsonFormatter",
    "KeyValueFormatter",
    "LogFormat",
    "configure_logging",
    "log_as_node",
    "process_node",
]

FIELDS = ("user_id", "run_id", "request_id", "connection_id", "agent", "status")
"""The ``extra`` keys goldpath's log calls use, shown as ``key=value`` after the message."""

LogFormat: TypeAlias = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

_ALWAYS = ("user_id", "run_id", "request_id")
"""The ids a JSON line always carries, so a query for them needs no "key exists" test."""

LOGGERS = ("goldpath", "uvicorn")
"""The loggers `configure_logging` writes: goldpath's own and the web server's."""


def process_node() -> str:
    """This process's name in the logs: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class KeyValueFormatter(logging.Formatter):
    """``2026-01-01T12:00:00 INFO goldpath.server.runs run accepted user_id=usr_… run_id=…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = [f"{key}={getattr(record, key)}" for key in FIELDS if hasattr(record, key)]
        if not pairs:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} {' '.join(pairs)}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in values are escaped)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node
        """What the ``node`` field says (`log_as_node` names the cluster's node)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "node": getattr(record, "node", self.node),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None or key in _ALWAYS:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str)


def configure_logging(level: str, log_format: LogFormat = "text", node: str | None = None) -> None:
    """Send goldpath's and uvicorn's logs to stderr in ``log_format``; `goldpath serve` calls
    this (and gives uvicorn no logging configuration of its own). ``node`` names this process
    in JSON lines (default: `process_node`)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(node or process_node()))
    else:
        handler.setFormatter(KeyValueFormatter())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


def log_as_node(node: str) -> Callable[[], None]:
    """Name ``node`` in the JSON lines of the handlers `configure_logging` set, from now on;
    returns what puts the previous names back. The app calls it at start-up with its node
    id, so a run's log lines and its lease in the store name the same node."""
    formatters = {
        handler.formatter
        for name in LOGGERS
        for handler in logging.getLogger(name).handlers
        if isinstance(handler.formatter, JsonFormatter)
    }
    previous = [(formatter, formatter.node) for formatter in formatters]
    for formatter in formatters:
        formatter.node = node

    def restore() -> None:
        for formatter, name in previous:
            formatter.node = name

    return restore
