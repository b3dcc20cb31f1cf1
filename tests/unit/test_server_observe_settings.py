"""GOLDPATH_TRACING and GOLDPATH_METRICS refuse to start without their extras."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from goldpath.errors import ConfigurationError
from goldpath.server import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("setting", "package", "extra"),
    [("tracing", "opentelemetry.sdk", "otel"), ("metrics", "prometheus_client", "metrics")],
)
def test_an_observer_needs_its_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, package: str, extra: str
) -> None:
    settings = Settings(data_dir=tmp_path).model_copy(update={setting: True})
    settings.check_backends()  # installed here: accepted
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a)
    )
    with pytest.raises(ConfigurationError, match=rf"pip install 'goldpath\[{extra}\]'"):
        settings.check_backends()
