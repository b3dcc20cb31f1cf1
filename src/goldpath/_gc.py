"""The cyclic collector's setting for a process goldpath owns: ``goldpath serve`` (each of
its processes) and the benchmarks, never ``import goldpath`` nor ``create_app``.

Why: at 1,000 runs in flight, each run's task, frames and messages outlive a few young
collections; with Python's default thresholds (700, 10, 10) the second generation is
collected every 10 young collections, so runs still in flight are walked again, promoted
to the old generation and trigger full collections (13% of the time in
``bench/engine_overhead.py --steady``). A second-generation threshold of 1,000 leaves the
runs time to end and be freed by their reference counts before anyone walks them again:
about 3% (docs/benchmarks.md, "Steady state (issue 16)"). Young collections stay as they
are. Cyclic garbage that survives one young collection is freed later (at the next
second-generation collection), not never.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping

from goldpath.errors import ConfigurationError

__all__ = ["GC_THRESHOLDS", "GC_TUNING_VARIABLE", "tune_gc"]

GC_THRESHOLDS = (700, 1000, 10)
"""Young generation as Python's default; the second collected every 1,000 young ones."""

GC_TUNING_VARIABLE = "GOLDPATH_GC_TUNING"
"""``on`` (the default) or ``off``: leave Python's own thresholds."""


def tune_gc(environ: Mapping[str, str] = os.environ) -> tuple[int, int, int] | None:
    """Set :data:`GC_THRESHOLDS` for this whole process, unless ``GOLDPATH_GC_TUNING=off``;
    return the thresholds set, or ``None`` when left alone."""
    value = environ.get(GC_TUNING_VARIABLE, "on").strip().lower()
    if value == "off":
        return None
    if value != "on":
        raise ConfigurationError(
            f"{GC_TUNING_VARIABLE} is {value!r}; set it to on (the default) or off"
        )
    gc.set_threshold(*GC_THRESHOLDS)
    return GC_THRESHOLDS
