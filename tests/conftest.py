"""Fixtures every test folder shares. Helpers that are plain functions live in tests/helpers.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from goldpath.factory import configure_execution_engine_factory
from tests.openai_server import forbid_remote_model_calls


@pytest.fixture(autouse=True)
def no_remote_model_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP request a test makes to anything but 127.0.0.1 fails the test: the only
    model a test may reach is a local test server (STYLE.md: a real call in a test is an
    error)."""
    forbid_remote_model_calls(monkeypatch)


@pytest.fixture(autouse=True)
def gc_thresholds_restored() -> Iterator[None]:
    """``goldpath serve`` and ``app_from_settings`` tune the collector of their process
    (goldpath/_gc.py); one a test calls in-process leaves the next test Python's own."""
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.fixture
def no_process_factory() -> Iterator[None]:
    """No process-wide execution engine factory during the test, and none after it."""
    configure_execution_engine_factory(None)
    try:
        yield
    finally:
        configure_execution_engine_factory(None)
