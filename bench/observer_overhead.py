"""What watching runs costs the engine: `engine_overhead.py`'s sequential phase for goldpath
with no observer (the default), with the server's Prometheus metrics, and with its
OpenTelemetry tracing (spans made, none exported: ``OTEL_TRACES_EXPORTER=none``).

Each measurement is a fresh subprocess; the figure is the median over ``--repeats``::

    .venv/bin/python bench/observer_overhead.py --runs 3000 --repeats 3
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
from typing import Any

OBSERVERS = ("none", "metrics", "tracing")


def _measure(observer: str, runs: int) -> None:
    """In the subprocess: hand every factory ``observer``, then run the sequential phase."""
    import engine_overhead

    import goldpath.factory

    if observer != "none":
        made: Any
        if observer == "metrics":
            from goldpath.server._metrics import PrometheusMetrics

            made = PrometheusMetrics()
        else:
            os.environ["OTEL_TRACES_EXPORTER"] = "none"
            from goldpath.server._tracing import Tracing

            made = Tracing.from_environment(user_ids=False, messages=False)
        original = goldpath.factory.ExecutionEngineFactory.__init__

        @functools.wraps(original)
        def observed(self: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("observer", made)
            original(self, *args, **kwargs)

        goldpath.factory.ExecutionEngineFactory.__init__ = observed  # type: ignore[method-assign]
    engine_overhead.main(["--worker", "goldpath", "--phase", "seq", "--runs", str(runs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--observer", choices=OBSERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.observer:
        _measure(args.observer, args.runs)
        return
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in OBSERVERS}
    for _ in range(args.repeats):
        for name in OBSERVERS:  # interleaved, so a change in the machine's load hits all
            command = [sys.executable, __file__, "--observer", name, "--runs", str(args.runs)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            figures[name].append(json.loads(out.strip().splitlines()[-1]))
    base = statistics.median(f["seq_ms"] for f in figures["none"])
    print("| observer | ms/run (median) | CPU ms/run (median) | vs none |")
    print("|---|---|---|---|")
    for name, rows in figures.items():
        wall = statistics.median(r["seq_ms"] for r in rows)
        cpu = statistics.median(r["seq_cpu_ms"] for r in rows)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall - base:+.3f} ms |")


if __name__ == "__main__":
    main()
