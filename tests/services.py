"""Skip, or fail under GOLDPATH_REQUIRE_SERVICES=1, when a service a test needs is absent."""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def services_required() -> bool:
    return os.environ.get("GOLDPATH_REQUIRE_SERVICES") == "1"


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the calling test with a reason, or fail it when services are required."""
    if reachable(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if services_required():
        pytest.fail(f"{reason}, and GOLDPATH_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(reason)
