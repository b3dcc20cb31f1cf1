"""goldpath/_gc.py: the collector setting of the processes goldpath owns, and its switch."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from goldpath._gc import GC_THRESHOLDS, tune_gc
from goldpath.errors import ConfigurationError

pytestmark = pytest.mark.unit

PYTHON_DEFAULT = (700, 10, 10)


def test_tune_gc_sets_the_thresholds_it_returns() -> None:
    gc.set_threshold(*PYTHON_DEFAULT)
    assert tune_gc({}) == GC_THRESHOLDS == gc.get_threshold()
    gc.set_threshold(*PYTHON_DEFAULT)
    assert tune_gc({"GOLDPATH_GC_TUNING": " On "}) == GC_THRESHOLDS == gc.get_threshold()


def test_off_leaves_the_collector_alone() -> None:
    gc.set_threshold(*PYTHON_DEFAULT)
    assert tune_gc({"GOLDPATH_GC_TUNING": "off"}) is None
    assert gc.get_threshold() == PYTHON_DEFAULT


def test_another_value_says_what_to_write() -> None:
    gc.set_threshold(*PYTHON_DEFAULT)
    with pytest.raises(ConfigurationError, match="GOLDPATH_GC_TUNING is 'no'; set it to on"):
        tune_gc({"GOLDPATH_GC_TUNING": "no"})
    assert gc.get_threshold() == PYTHON_DEFAULT


def test_importing_goldpath_changes_nothing() -> None:
    def thresholds(imports: str) -> str:
        code = f"import gc{imports}; print(gc.get_threshold())"
        found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert found.returncode == 0, found.stderr
        return found.stdout.strip()

    assert thresholds(", goldpath, goldpath.server") == thresholds("")
