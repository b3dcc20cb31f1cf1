"""Structured log lines: the message, then the ids of the request, run and connection."""

from __future__ import annotations

import logging

__all__ = ["FIELDS", "KeyValueFormatter", "configure_logging"]

FIELDS = ("user_id", "run_id", "request_id", "connection_id", "agent", "status")
"""The ``extra`` keys goldpath's log calls use, shown as ``key=value`` after the message."""


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


def configure_logging(level: str) -> None:
    """Send goldpath's logs to stderr in the key=value form; `goldpath serve` calls this."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter())
    logger = logging.getLogger("goldpath")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
