"""Running a benchmark's measuring worker in a fresh subprocess and reading its figures."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any


def run_worker(command: list[str], label: str, timeout: float) -> dict[str, Any]:
    """Run ``command`` (a worker that prints its figures as JSON on its last line) and
    return them; a worker that fails stops the benchmark with its output."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{label} failed:\n{done.stdout}\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures
