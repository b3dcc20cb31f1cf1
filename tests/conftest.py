"""Fixtures every test folder shares. Helpers that are plain functions live in tests/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goldpath.factory import configure_execution_engine_factory


@pytest.fixture
def no_process_factory() -> Iterator[None]:
    """No process-wide execution engine factory during the test, and none after it."""
    configure_execution_engine_factory(None)
    try:
        yield
    finally:
        configure_execution_engine_factory(None)
